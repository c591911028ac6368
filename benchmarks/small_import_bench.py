"""Small-import benchmark: `bin/followup import` of the 60-row sample end to end, as a user runs
it, with Prefect's temporary server (nothing running) against the local server that
`followup server start` leaves running; each run in a fresh data dir, the two interleaved.

A third kind of run, with the local server, times where the rest goes: Python's start, the
imports (the command line, Prefect, Great Expectations), the command itself (the flow run with
its API calls, validation, Data Docs, the ledger) and the process's end.

    python benchmarks/small_import_bench.py [--repeats 5] [--sample FILE] [--workdir DIR]

Prints one JSON document, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLLOWUP = [str(ROOT / "bin" / "followup")]
TARGET_S = 8.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Run in a child (--phases-to FILE): the same command, with its parts timed from inside.
_PHASES = """
import json, os, sys, time
start = float(os.environ["BENCH_T0"])
marks = {"python_started": time.time() - start}
import followup.cli
from followup.cli.common import quiet_services
quiet_services()  # as the command's callback does first: Prefect then loads with the local server's URL
marks["imported_cli"] = time.time() - start
import flows.import_batch
marks["imported_prefect_and_flows"] = time.time() - start
import great_expectations
marks["imported_great_expectations"] = time.time() - start
sys.argv = ["followup", "import", sys.argv[1], "--json"]
try:
    followup.cli.main()
except SystemExit:
    pass
marks["command_done"] = time.time() - start
with open(os.environ["BENCH_PHASES"], "w") as out:
    json.dump(marks, out)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(prefect_home: Path, data_dir: Path) -> dict[str, str]:
    """The user's shell, less any Prefect API or followup setting: nothing but what is measured."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL" and not k.startswith(("FOLLOWUP_", "SENDGRID_"))}
    env.update(PREFECT_HOME=str(prefect_home), FOLLOWUP_DATA_DIR=str(data_dir))
    return env


def load() -> float:
    return round(os.getloadavg()[0], 2)


def timed_import(sample: Path, env: dict[str, str]) -> dict:
    before = load()
    started = time.perf_counter()
    done = subprocess.run([*FOLLOWUP, "import", str(sample), "--json"], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0 or json.loads(done.stdout)["status"] != "imported":
        raise SystemExit(f"the import failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"seconds": round(seconds, 2), "load_before": before}


def phases(sample: Path, env: dict[str, str], workdir: Path) -> dict:
    out = workdir / "phases.json"
    started = time.time()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", _PHASES, str(sample)],
                          env={**env, "BENCH_T0": repr(started), "BENCH_PHASES": str(out)}, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    ended = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"the timed import failed: {done.stderr[-2000:]}")
    marks = json.loads(out.read_text())
    order = ["python_started", "imported_cli", "imported_prefect_and_flows", "imported_great_expectations",
             "command_done"]  # fmt: skip
    parts = {"python_start": marks["python_started"]}
    for previous, mark in zip(order, order[1:]):
        parts[mark.removeprefix("imported_") if mark.startswith("imported_") else "command"] = marks[mark] - marks[previous]
    parts["exit"] = ended - marks["command_done"]
    return {name: round(value, 2) for name, value in parts.items()} | {"total": round(ended, 2)}


def flow_runs(api: str) -> list[dict]:
    request = urllib.request.Request(f"{api}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"})
    with _NO_PROXY.open(request, timeout=30) as answer:
        return json.loads(answer.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="Untimed imports of each kind first (a new Prefect "
                        "database, the flow's first registration).")  # fmt: skip
    parser.add_argument("--sample", type=Path, default=ROOT / "data" / "samples" / "candidates.csv")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--phases-only", action="store_true", help="Only the timed parts, with the local server.")
    opts = parser.parse_args()
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="small-import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    homes = {"temporary_server": workdir / "prefect-nothing-running", "local_server": workdir / "prefect-local"}
    for home in homes.values():
        home.mkdir(exist_ok=True)

    port = free_port()
    started = time.perf_counter()
    up = subprocess.run([*FOLLOWUP, "server", "start", "--port", str(port)], env=environment(homes["local_server"], workdir),
                        capture_output=True, text=True, timeout=600)  # fmt: skip
    server_start_s = time.perf_counter() - started
    if up.returncode != 0:
        raise SystemExit(f"followup server start failed: {up.stderr}")
    runs: dict[str, list[dict]] = {mode: [] for mode in homes}
    try:
        if opts.phases_only:
            for attempt in range(opts.repeats):
                print(json.dumps(phases(opts.sample, environment(homes["local_server"], workdir / f"phases-{attempt}"),
                                        workdir) | {"load_before": load()}))  # fmt: skip
            return
        for warmup in range(opts.warmup):
            for mode, home in homes.items():
                timed_import(opts.sample, environment(home, workdir / f"{mode}-warmup-{warmup}"))
        for repeat in range(opts.repeats):
            order = list(homes) if repeat % 2 == 0 else list(reversed(homes))  # neither always goes first
            for mode in order:
                data_dir = workdir / f"{mode}-{repeat}"
                runs[mode].append(timed_import(opts.sample, environment(homes[mode], data_dir)))
        where = [phases(opts.sample, environment(homes["local_server"], workdir / f"phases-{attempt}"), workdir)
                 for attempt in range(2)]  # fmt: skip
        recorded = flow_runs(f"http://127.0.0.1:{port}/api")
    finally:
        subprocess.run([*FOLLOWUP, "server", "stop"], env=environment(homes["local_server"], workdir),
                       capture_output=True, timeout=120)  # fmt: skip

    medians = {mode: statistics.median(run["seconds"] for run in done) for mode, done in runs.items()}
    result = {
        "benchmark": "small_import",
        "sample": str(opts.sample),
        "repeats": opts.repeats,
        "warmup": opts.warmup,
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "target_s": TARGET_S,
        "server_start_s": round(server_start_s, 2),
        "runs": runs,
        "median_s": medians,
        "flow_runs_on_local_server": sum(run["flow_id"] is not None and run["state_type"] == "COMPLETED" for run in recorded),
        "where_the_time_goes_local_server": where,
    }
    print(json.dumps(result, indent=2))
    local = [run["seconds"] for run in runs["local_server"]]
    temporary = [run["seconds"] for run in runs["temporary_server"]]
    print(
        f"import of {opts.sample.name} end to end: local server median {medians['local_server']:.1f} s "
        f"({min(local):.1f}-{max(local):.1f}; target {TARGET_S:g} s) vs temporary server {medians['temporary_server']:.1f} s "
        f"({min(temporary):.1f}-{max(temporary):.1f}), {opts.repeats} each, interleaved; "
        f"{result['flow_runs_on_local_server']} flow runs recorded on the local server; its start {server_start_s:.1f} s once"
    )


if __name__ == "__main__":
    main()
