"""Reply-intent accuracy on the labelled set: tables for tuning and held-out, a JSON document, a summary."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from followup.tracking.intent import evaluate  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "replies"


def load(name):
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def table(name, result):
    lines = [f"{name}: overall {result['overall']:.1%} of {result['n']}"]
    for key in ("per_intent", "per_language"):
        lines += [f"  {k:<14} {v:6.1%}" for k, v in result[key].items()]
    lines.append(f"  accepted read as declined: {result['accepted_read_as_declined']}, "
                 f"declined read as accepted: {result['declined_read_as_accepted']}")
    return "\n".join(lines)


def main(parts=("tuning", "heldout")):
    results = {part: evaluate(load(f"{part}.jsonl")) for part in parts}
    for part, result in results.items():
        print(table(part, result))
    print(json.dumps({p: {k: v for k, v in r.items() if k != "wrong"} for p, r in results.items()}))
    print(" | ".join(f"{p} {r['overall']:.1%} (n={r['n']})" for p, r in results.items()))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or ("tuning", "heldout"))
