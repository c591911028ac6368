"""Every benchmark in benchmarks/, one after another, each as its own process; then a dated
section with the machine and each script's one-line summary appended to BENCHMARKS.md (earlier
sections stay), and every script's JSON document in one file under benchmarks/results/.

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--timeout S] [--no-record]

Default sizes are each script's own (the issue's: a million rows, a 100,000-message campaign,
and so on: about an hour here). `--quick` runs each at a size that takes seconds to a minute, to
check that the scripts work; their figures are not the targets' and say so in the section.

One script at a time, since the machine is small and shared: the load average before and after
each is recorded beside its figures. A script that fails (or outlasts --timeout) is recorded
with its exit code and the end of its stderr, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOT_BENCHMARKS = {"run_all.py", "benchkit.py"}
SECTIONS_HEADING = "## Suite runs (benchmarks/run_all.py)"

# Sizes for --quick: enough to run every path of each script, far from the sizes.
QUICK = {
    "campaign_bench.py": ["--rows", "12000", "--serial-messages", "20", "--prefect-messages", "200"],
    "import_bench.py": ["--rows", "50000"],
    "plan_bench.py": ["--candidates", "5000", "--rounds", "1"],
    "render_bench.py": ["--batch", "500", "--rounds", "3"],
    "render_store_bench.py": ["--messages", "5000"],
    "report_bench.py": ["--messages", "20000", "--events", "100000"],
    "send_bench.py": ["--messages", "5000", "--serial-messages", "20"],
    "webhook_bench.py": ["--events", "5000", "--rounds", "1"],
}


def scripts(only: list[str] | None) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS and not p.name.startswith("_"))
    if only:
        found = [p for p in found if p.stem in only or p.name in only]
    return found


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def documents(stdout: str) -> tuple[dict | None, str]:
    """The script's JSON document (the last one that starts a line: some print a per-part
    document first) and its one-line summary (the last line)."""
    decoder, document, at = json.JSONDecoder(), None, 0
    while (start := stdout.find("{", at)) != -1:
        if start == 0 or stdout[start - 1] == "\n":
            try:
                found, end = decoder.raw_decode(stdout, start)
            except ValueError:
                end = start + 1
            else:
                document = found if isinstance(found, dict) else document
            at = end
        else:
            at = start + 1
    lines = [line for line in stdout.splitlines() if line.strip()]
    return document, lines[-1] if lines else ""


def run(script: Path, quick: bool, timeout_s: float | None) -> dict:
    args = QUICK.get(script.name, []) if quick else []
    before, started = load(), time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout_s)  # fmt: skip
    except subprocess.TimeoutExpired as late:
        out = late.stdout.decode(errors="replace") if isinstance(late.stdout, bytes) else late.stdout or ""
        done = subprocess.CompletedProcess(late.cmd, -1, out, f"stopped after {timeout_s:g} s")
    seconds = time.perf_counter() - started
    document, summary = documents(done.stdout)
    return {
        "script": script.name,
        "args": args,
        "exit_code": done.returncode,
        "seconds": round(seconds, 1),
        "load_average": {"before": before, "after": load()},
        "summary": summary if done.returncode == 0 or document else None,
        "result": document,
        "stderr_tail": done.stderr[-1500:] if done.returncode else None,
    }


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def machine() -> dict:
    uname = platform.uname()
    return {
        "uname": f"{uname.system} {uname.node} {uname.release} {uname.machine}",
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": load(),
    }


def section(stamp: str, quick: bool, host: dict, results: list[dict], commit: str, json_file: Path) -> str:
    sizes = "quick sizes (`--quick`: a check that the scripts run, not the targets' sizes)" if quick else "default sizes"
    lines = [
        f"### {stamp} UTC, {sizes}, code {commit}",
        "",
        f"Machine: {host['uname']}, {host['cores']} cores, Python {host['python']}, load average "
        f"{' / '.join(str(x) for x in host['load_average'])} (1, 5, 15 min) at the start; shared with other work.",
        f"JSON documents: `{json_file.relative_to(ROOT)}`.",
        "",
        "| script | args | exit | time | load before → after | summary |",
        "|---|---|---:|---:|---|---|",
    ]
    for r in results:
        summary = (r["summary"] or f"failed: {(r['stderr_tail'] or '').strip().splitlines()[-1:] or ''}").replace("|", "/")
        lines.append(
            f"| {r['script']} | {' '.join(r['args']) or '(defaults)'} | {r['exit_code']} | {r['seconds']:.0f} s | "
            f"{r['load_average']['before'][0]} → {r['load_average']['after'][0]} | {summary} |"
        )
    return "\n".join(lines) + "\n"


def record(text: str, path: Path) -> None:
    """Append the section under the suite runs' heading (added once, at the end of the file)."""
    existing = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTIONS_HEADING not in existing:
        existing = existing.rstrip("\n") + f"\n\n{SECTIONS_HEADING}\n\nEach run of `python benchmarks/run_all.py`"
        existing += " appends its section here, the latest last.\n"
    path.write_text(existing.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: check that every script runs")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these scripts (e.g. send_bench)")
    parser.add_argument("--no-record", action="store_true", help="print, but leave BENCHMARKS.md as it is")
    parser.add_argument("--benchmarks-file", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop a script after S seconds (exit -1)")
    opts = parser.parse_args()

    host, commit = machine(), git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    started = time.gmtime()
    stamp = time.strftime("%Y-%m-%d %H:%M", started)
    results = []
    for script in scripts(opts.only):
        print(f"running {script.name} …", file=sys.stderr, flush=True)
        results.append(run(script, opts.quick, opts.timeout))
        print(f"  {results[-1]['seconds']:.0f} s, exit {results[-1]['exit_code']}: {results[-1]['summary']}",
              file=sys.stderr, flush=True)  # fmt: skip
    json_file = HERE / "results" / f"{time.strftime('%Y%m%dT%H%M', started)}{'-quick' if opts.quick else ''}.json"
    report = {"date": stamp, "quick": opts.quick, "code": commit, "machine": host, "runs": results}
    if not opts.no_record:
        json_file.parent.mkdir(exist_ok=True)
        json_file.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        record(section(stamp, opts.quick, host, results, commit, json_file), opts.benchmarks_file)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"} | {
        "runs": [{k: r[k] for k in ("script", "exit_code", "seconds", "summary")} for r in results]}))  # fmt: skip
    failed = [r["script"] for r in results if r["exit_code"]]
    print(f"{len(results)} benchmarks in {sum(r['seconds'] for r in results):.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else "; all exited 0")
          + ("" if opts.no_record else f"; recorded in {opts.benchmarks_file.name}"))  # fmt: skip
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
