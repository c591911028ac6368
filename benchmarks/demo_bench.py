"""Demo benchmark: `followup demo` end to end, as the README's first command runs it once
installed (a fresh data dir each run; target: at most 90 s for the default 2,000 candidates).

Each run is a separate process, with the Prefect API this environment names (a local server when
PREFECT_API_URL is set or `followup server start` ran, else a temporary one that the run starts
and stops: its start-up is part of the time). The demo's own figures say where the time went.

    python benchmarks/demo_bench.py [--runs 2] [--candidates 2000] [--days 14]

Prints one JSON document, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 90.0


def one_run(candidates: int, days: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as scratch:
        env = {**os.environ, "FOLLOWUP_DATA_DIR": str(Path(scratch) / "data")}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "followup.cli", "demo", "--candidates", str(candidates),
                               "--days", str(days), "--json"], env=env, capture_output=True, text=True)  # fmt: skip
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the demo failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout)
    return {"seconds": round(seconds, 1), "stages": summary["seconds"], "sweeps": summary["sweeps"],
            "sent": summary["sent"]["total"], "accepted_twice": summary["sandbox"]["accepted_twice"],
            "flow_run": summary["prefect_flow_run"]["see"], "load_after": os.getloadavg()[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    opts = parser.parse_args()
    runs = [one_run(opts.candidates, opts.days) for _ in range(opts.runs)]
    best, median = min(r["seconds"] for r in runs), statistics.median(r["seconds"] for r in runs)
    result = {
        "benchmark": "demo",
        "candidates": opts.candidates,
        "days": opts.days,
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        # The first run's flow-run address: a local server's page, or the temporary server's hint.
        "prefect": runs[0]["flow_run"],
        "runs": runs,
        "best_s": best,
        "median_s": median,
        "target_s": TARGET_S,
    }
    print(json.dumps(result, indent=2))
    stages = runs[0]["stages"]
    print(f"demo {opts.candidates:,} candidates over {opts.days} days: median {median:.0f} s, best {best:.0f} s "
          f"(target <= {TARGET_S:.0f} s; first run: campaign {stages['campaign']:.0f} s, "
          f"{runs[0]['sweeps']} sweeps {stages['follow_ups']:.0f} s, report {stages['report']:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
