"""Render-and-store benchmark: 100,000 planned offer emails rendered into the ledger.

Builds a SQLite ledger with generated candidates and one planned offer email each, then times
the render stage (tasks.rendering.render_messages over chunks of ids: read the joined rows,
render, write the parts back) on one process and on one process per core (chunks spread over a
forked process pool), the clock starting once the workers are up (that start-up is reported
beside the step as worker_startup_s); and then as the flows run a big campaign
(followup.stages.rendering.render_in_processes: spawned workers, their start-up on the clock).

    python benchmarks/render_store_bench.py [--messages 100000] [--chunk 2000]

Prints one JSON document, then a one-line summary. Target (issue F2): at most 15 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

TARGET_SECONDS = 15.0
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def build_ledger(url: str, messages: int) -> None:
    """Candidates and offers from the sample generator, stored as an import stores them."""
    import pandas as pd

    from followup import importing, validation
    from followup.models import Message
    from followup.samples import generate_batch, write_batch
    from followup.store import open_ledger
    from followup.store.batches import BatchRecord, store_batch

    workdir = Path(tempfile.mkdtemp(prefix="render-store-"))
    frame = generate_batch(int(messages * 1.05), seed=5, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=NOW)
    frame["decision"] = "offer"
    path = write_batch(frame, workdir / "batch.csv")
    checked = validation.validate_batch(importing.read_batch(path), batch_id="bench", docs_dir=None)
    engine = open_ledger(url)
    store_batch(engine, BatchRecord(id="bench", source_name="bench", file_sha256="0" * 64), checked.valid)
    with engine.begin() as conn:
        decisions = pd.read_sql("SELECT id, candidate_id FROM decisions ORDER BY id", conn).head(messages)
        conn.execute(
            sa.insert(Message),
            [{"message_key": f"bench-{d.id}", "campaign": "bench", "candidate_id": d.candidate_id,
              "decision_id": d.id, "kind": "offer", "step": 0, "channel": "email", "scheduled_for": NOW}
             for d in decisions.itertuples()],
        )  # fmt: skip
    shutil.rmtree(workdir)


def start_worker(url: str, ready: multiprocessing.synchronize.Barrier) -> None:
    """What a flow's worker has done before its first render task: imported Prefect (~4 s of
    CPU here), compiled the templates and opened the ledger. Timed apart from the step."""
    from followup.store import open_ledger
    from followup.stages.rendering import RenderSetup, renderer_for

    renderer_for(RenderSetup())
    # A forked worker inherits the parent's engine: give it its own connections (SQLAlchemy's
    # recipe for fork), leaving the parent's untouched.
    open_ledger(url).dispose(close=False)
    ready.wait()


def render_ids(args: tuple[str, list[int]]) -> dict:
    from followup.stages.rendering import RenderSetup
    from tasks.rendering import render_messages

    url, ids = args
    cpu = time.process_time()
    counts = render_messages.fn(url, ids, RenderSetup(), NOW)
    return {**counts, "cpu_s": time.process_time() - cpu}


def timed(url: str, chunks: list[list[int]], workers: int) -> dict:
    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    fork = multiprocessing.get_context("fork")
    ready = fork.Barrier(workers + 1)
    with ProcessPoolExecutor(workers, mp_context=fork, initializer=start_worker, initargs=(url, ready)) as pool:
        pool.submit(int)  # a fork pool starts all its workers at the first task
        ready.wait()  # the clock starts when every worker is ready
        startup = time.perf_counter() - started
        started = time.perf_counter()
        counts = list(pool.map(render_ids, [(url, chunk) for chunk in chunks]))
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        # CPU of the step summed over the workers: what it costs whatever else the machine runs.
        "cpu_s": round(sum(c["cpu_s"] for c in counts), 2),
        "worker_startup_s": round(startup, 2),
        "load_average_1m": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],  # at start, at end
        "rendered": sum(c["rendered"] for c in counts),
        "failed": sum(c["failed"] for c in counts),
    }


def reset(url: str) -> None:
    """Back to planned exactly as built, variant included: a kept variant would spare the second
    run assigning one."""
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text(
            "UPDATE messages SET status = 'planned', variant = NULL, template = NULL, subject = NULL, "
            "text_body = NULL, html_body = NULL, headers = NULL, attachments = NULL, call_sheet = NULL, "
            "last_error = NULL"
        ))  # fmt: skip


def as_the_flows_run_it(url: str, ids: list[int], processes: int) -> dict:
    """followup.stages.rendering.render_in_processes, as a big campaign's flow calls it: the clock
    includes spawning the workers and their compiling the templates."""
    from followup.stages.rendering import RenderSetup, render_in_processes

    load = os.getloadavg()[0]
    started = time.perf_counter()
    counts = render_in_processes(url, ids, RenderSetup(), NOW, processes)
    return {"seconds": round(time.perf_counter() - started, 2), "processes": processes, **counts,
            "load_average_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=2_000)
    opts = parser.parse_args()

    from followup.store import open_ledger
    from followup.store.messages import planned_ids

    workdir = Path(tempfile.mkdtemp(prefix="render-store-ledger-"))
    url = f"sqlite:///{workdir / 'ledger.db'}"
    build_ledger(url, opts.messages)
    ids = planned_ids(open_ledger(url), campaign="bench")
    chunks = [ids[i : i + opts.chunk] for i in range(0, len(ids), opts.chunk)]
    one = timed(url, chunks, 1)
    reset(url)
    both = timed(url, chunks, os.cpu_count() or 1)
    reset(url)
    flows = as_the_flows_run_it(url, ids, os.cpu_count() or 1)
    shutil.rmtree(workdir)
    result = {
        "benchmark": "render_and_store",
        "messages": len(ids),
        "chunk": opts.chunk,
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "one_process": one,
        "one_process_per_core": both,
        "as_the_flows_run_it": flows,
        "target_seconds": TARGET_SECONDS,
    }
    print(json.dumps(result, indent=2))
    print(
        f"render+store {len(ids):,} offer emails into SQLite: {one['seconds']:.1f} s on one process "
        f"({one['cpu_s']:.1f} s CPU, load {one['load_average_1m'][0]:.1f}), {both['seconds']:.1f} s on "
        f"{os.cpu_count()} ({both['cpu_s']:.1f} s CPU, load {both['load_average_1m'][0]:.1f}); "
        f"as the flows run it, worker start-up included: {flows['seconds']:.1f} s "
        f"(target <= {TARGET_SECONDS:.0f} s)"
    )


if __name__ == "__main__":
    main()
