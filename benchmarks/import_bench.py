"""Import benchmark: 1,000,000 generated rows imported, validated and stored, beside the floor.

The floor is what no import can avoid: reading the file into a frame and running the Great
Expectations suite over it. Each stage runs in its own process so its peak RSS is its own.

    python benchmarks/import_bench.py [--rows 1000000] [--workdir DIR]

Prints one JSON document, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_generate(path: Path, rows: int) -> dict:
    from followup.samples import generate_batch, write_batch

    started = time.perf_counter()
    write_batch(generate_batch(rows, seed=11, bad_share=0.01, channel_mix=(0.7, 0.2, 0.1)), path)
    return {"seconds": time.perf_counter() - started, "bytes": path.stat().st_size}


def stage_floor(path: Path) -> dict:
    """Read the file and run the GX suite alone: no quarantine, no ledger.

    The suite runs over the frame of derived checks it validates; deriving that frame is our
    own work, timed beside the floor but not counted in it.
    """
    from followup import importing, validation

    started = time.perf_counter()
    raw = importing.read_batch(path)
    read_s = time.perf_counter() - started
    t = time.perf_counter()
    prepared = validation.prepare(raw)
    prepare_s = time.perf_counter() - t
    t = time.perf_counter()
    validation.run_suite(prepared.checks, "floor")
    suite_s = time.perf_counter() - t
    return {"seconds": read_s + suite_s, "read_s": read_s, "suite_s": suite_s,
            "prepare_s_not_counted": prepare_s, "rows": len(raw.frame)}  # fmt: skip


def stage_full(path: Path, data_dir: Path) -> dict:
    """The whole import as `followup import` runs it, minus Prefect's start-up (the task bodies)."""
    from followup import importing, validation
    from followup.store import open_ledger
    from followup.store.batches import BatchRecord, new_batch_id, store_batch

    engine = open_ledger(f"sqlite:///{data_dir / 'followup.db'}")
    started = time.perf_counter()
    sha = importing.file_sha256(path)
    raw = importing.read_batch(path)
    read_s = time.perf_counter() - started
    batch_id = new_batch_id(sha)
    t = time.perf_counter()
    checked = validation.validate_batch(raw, batch_id=batch_id, docs_dir=data_dir / "docs")
    quarantine = validation.write_quarantine(checked, data_dir / "quarantine" / f"{batch_id}.csv")
    validate_s = time.perf_counter() - t
    t = time.perf_counter()
    record = BatchRecord(id=batch_id, source_name=path.name, file_sha256=sha, rows=checked.rows,
                         valid=len(checked.valid), quarantined=len(checked.quarantine),
                         quarantine_file=str(quarantine))  # fmt: skip
    store_batch(engine, record, checked.valid)
    store_s = time.perf_counter() - t
    return {
        "seconds": time.perf_counter() - started,
        "read_s": read_s,
        "validate_s": validate_s,
        "store_s": store_s,
        "rows": checked.rows,
        "valid": len(checked.valid),
        "quarantined": len(checked.quarantine),
    }


def stage_cli(path: Path, data_dir: Path) -> dict:
    """End to end through `followup import --json`, Prefect's temporary server included.

    The import runs in the CLI's process; this stage's peak RSS is that child's, read from
    RUSAGE_CHILDREN (the temporary Prefect server is a grandchild and counts too).
    """
    env = {**os.environ, "FOLLOWUP_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "followup.cli", "import", str(path), "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {
        "seconds": time.perf_counter() - started,
        "summary": json.loads(done.stdout),
        "child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _child(stage: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--stage", stage, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--stage", choices=["generate", "floor", "full", "cli"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.stage:
        stages = {
            "generate": lambda: stage_generate(opts.path, opts.rows),
            "floor": lambda: stage_floor(opts.path),
            "full": lambda: stage_full(opts.path, opts.data_dir),
            "cli": lambda: stage_cli(opts.path, opts.data_dir),
        }
        figures = stages[opts.stage]()
        figures["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(figures))
        return

    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="import-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "batch.csv"
    generated = _child("generate", "--path", str(path), "--rows", str(opts.rows))
    floor = _child("floor", "--path", str(path))
    full = _child("full", "--path", str(path), "--data-dir", str(workdir / "full"))
    cli = _child("cli", "--path", str(path), "--data-dir", str(workdir / "cli"))
    result = {
        "benchmark": "import",
        "rows": opts.rows,
        "file_mb": round(generated["bytes"] / 1e6, 1),
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "floor": floor,
        "import": full,
        "import_rows_per_s": round(full["rows"] / full["seconds"]),
        "floor_rows_per_s": round(floor["rows"] / floor["seconds"]),
        "cli": {"seconds": cli["seconds"], "status": cli["summary"]["status"], "peak_rss_mb": cli["child_peak_rss_mb"]},
    }
    print(json.dumps(result, indent=2))
    print(
        f"import {opts.rows:,} rows: {full['seconds']:.1f} s ({result['import_rows_per_s']:,} rows/s, "
        f"peak {full['peak_rss_mb']:.0f} MB) vs floor {floor['seconds']:.1f} s "
        f"(read + GX suite, peak {floor['peak_rss_mb']:.0f} MB); `followup import` end to end {cli['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
