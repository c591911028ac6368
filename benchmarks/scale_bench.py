"""Scale-out benchmark (issue F7): throughput against the number of concurrent sender flow runs
over one PostgreSQL ledger, through Prefect deployments and workers as production runs them.

Starts a Prefect server of its own (tests/prefect_server.py), a process work pool `followup`,
deploys `followup-sweep` from prefect.yaml and starts two workers (`--limit 2` each, so up to four
runs at once). The sandbox runs in its own process with added latency. For each count N
(--runs, default 1,2,4) it seeds one campaign of rendered offer emails, due now, into the same
PostgreSQL schema, creates N sweep flow runs at once through the REST API and waits for them.
Each run sends with one sender process (FOLLOWUP_SENDERS=1) of FOLLOWUP_SEND_CONCURRENCY threads.

Throughput is the campaign's messages over its sending span in the ledger (first claim to last
claim, plus one request's latency): the flow runs' start-up (a new Python process each, ~5-10 s) is outside the span and
reported apart as the wall time from creating the runs to the last one finishing. Checks each
campaign went out exactly once (every key accepted once by the sandbox, under the stored id).

    python benchmarks/scale_bench.py [--messages 20000] [--latency-ms 50] [--runs 1,2,4]
        [--concurrency 128]

Prints one JSON document, then a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.prefect_server: the Prefect server the tests start, shared

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from tests.prefect_server import PREFECT, api, local_prefect_server, start_worker, stop_workers  # noqa: E402

POSTGRES_URL = os.environ.get("FOLLOWUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
API_KEY = "SG.scale"
WORKERS = ("bench-a", "bench-b")
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def seed(url: str, campaign: str, messages: int, first_id: int) -> None:
    """`messages` candidates, each with an offer decision and its rendered offer email, due now
    in an open window (the built-in templates' sample offers, bodies reused)."""
    from followup.models import Batch, Campaign, Candidate, Decision, Message
    from followup.rendering import Renderer, sample_contexts
    from followup.store import open_ledger

    renderer = Renderer()
    offers = [renderer.render("offer", "email", c) for c in sample_contexts() if c.get("decision") == "offer"]
    now = datetime.now(timezone.utc)
    ids = range(first_id, first_id + messages)
    with open_ledger(url).begin() as conn:
        conn.execute(sa.insert(Campaign), [{"name": campaign}])
        conn.execute(sa.insert(Batch), [{"id": campaign, "source_name": f"{campaign}.csv", "file_sha256": "0" * 64,
                                         "status": "imported", "rows": messages, "valid": messages}])  # fmt: skip
        conn.execute(sa.insert(Candidate), [
            {"candidate_id": f"c{n:07d}", "email": f"candidate.{n}@example.com", "first_name": f"Ana{n}",
             "last_name": "Silva", "channel": "email", "locale": "en-US", "first_batch_id": campaign,
             "last_batch_id": campaign}
            for n in ids
        ])  # fmt: skip
        conn.execute(sa.insert(Decision), [
            {"id": n, "candidate_id": f"c{n:07d}", "batch_id": campaign, "source_line": n - first_id + 2,
             "role": "Data Engineer", "decision": "offer", "recruiter_name": "Maya Chen",
             "recruiter_email": "maya.chen@acme.example"}
            for n in ids
        ])  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": f"{campaign}:c{n:07d}:offer:0:email", "campaign": campaign, "candidate_id": f"c{n:07d}",
             "decision_id": n, "kind": "offer", "step": 0, "channel": "email", "variant": offer.variant,
             "template": offer.template, "status": "rendered", "subject": offer.subject, "text_body": offer.text,
             "html_body": offer.html, "headers": offer.headers or None,
             "scheduled_for": now - timedelta(hours=1), "window_closes": now + timedelta(hours=8),
             "cadence_started_at": now - timedelta(hours=1)}
            for n in ids
            for offer in [offers[n % len(offers)]]
        ])  # fmt: skip


def measure(url: str, campaign: str, sandbox, latency_ms: float) -> dict:
    """The campaign's span in the ledger, its statuses and the exactly-once checks."""
    from followup.store import open_ledger

    with open_ledger(url).connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT message_key, status, provider_message_id, claimed_at, claimed_by FROM messages "
            "WHERE campaign = :c"), {"c": campaign}).all()  # fmt: skip
    sent = [row for row in rows if row.status == "sent"]
    # Claims are real time and made just in time, one request's latency before the answer; sent_at
    # is on the business clock, which starts at the flow run's start and so lags the real one.
    claims = [row.claimed_at for row in sent]
    span = (max(claims) - min(claims)).total_seconds() + latency_ms / 1000 if sent else 0.0
    # How late the last sender began after the first (the runs' processes start one by one): the
    # span counts that time at fewer senders than the run's count.
    first_claims: dict[str, object] = {}
    for row in sent:
        first_claims[row.claimed_by] = min(first_claims.get(row.claimed_by, row.claimed_at), row.claimed_at)
    skew = (max(first_claims.values()) - min(first_claims.values())).total_seconds() if first_claims else 0.0
    accepted = [(mid, key) for mid, key in sandbox.message_keys() if key and key.startswith(f"{campaign}:")]
    times = Counter(key for _, key in accepted)
    id_of = {key: mid for mid, key in accepted}
    exactly_once = (len(sent) == len(rows) and len(times) == len(sent) and max(times.values(), default=1) == 1
                    and all(id_of.get(row.message_key) == row.provider_message_id for row in sent))  # fmt: skip
    return {
        "sent": len(sent),
        "statuses": dict(Counter(row.status for row in rows)),
        "sending_span_s": round(span, 2),
        "messages_per_s": round(len(sent) / span, 1) if span else 0.0,
        # A sender process's owner string (host, pid, start): how many processes claimed rows.
        "sender_processes_that_claimed": len(first_claims),
        "last_sender_began_after_s": round(skew, 2),
        "exactly_once": exactly_once,
    }


def run_trial(base: str, deployment_id: str, count: int, logs: list[Path]) -> dict:
    """`count` sweep runs created at once; the wall time until the last is done, and who ran them."""
    started = time.perf_counter()
    runs = [api(base, f"/deployments/{deployment_id}/create_flow_run", {})["id"] for _ in range(count)]
    deadline = time.monotonic() + 900
    while True:
        got = api(base, "/flow_runs/filter", {"flow_runs": {"id": {"any_": runs}}})
        if all(run["state_type"] in TERMINAL for run in got):
            break
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
            raise SystemExit(f"the sweep runs did not finish in 900 s\n{tails}")
        time.sleep(0.5)
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "states": dict(Counter(run["state_type"] for run in got)),
        "by_worker": dict(Counter(run["labels"].get("prefect.worker.name") for run in got)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per count of runs")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--runs", default="1,2,4", help="counts of concurrent sweep runs (at most 4: two workers x 2)")
    parser.add_argument("--concurrency", type=int, default=128, help="FOLLOWUP_SEND_CONCURRENCY of each run")
    opts = parser.parse_args()
    counts = [int(n) for n in opts.runs.split(",")]

    from followup.sandbox import Sandbox, SandboxConfig
    from followup.store import close_ledgers, control, open_ledger

    workdir = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    schema = f"scale_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url = url.render_as_string(hide_password=False)
    config = SandboxConfig(api_key=API_KEY, latency_ms=opts.latency_ms, validate_share=0.01)
    trials, load_before, workers = [], load(), []
    try:
        with Sandbox(config, process=True) as sandbox, local_prefect_server(
            workdir / "prefect-home", PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false"
        ) as (base, env):
            env = {**env, "FOLLOWUP_HOME": str(ROOT)}
            for args in (("work-pool", "create", "followup", "--type", "process"),
                         ("--no-prompt", "deploy", "-n", "followup-sweep")):  # fmt: skip
                subprocess.run([*PREFECT, *args], cwd=ROOT, env=env, check=True, capture_output=True)
            settings = {
                "FOLLOWUP_DATABASE_URL": url,
                "FOLLOWUP_DATA_DIR": str(workdir / "data"),
                "FOLLOWUP_TRANSPORT": "sendgrid",
                "SENDGRID_API_KEY": API_KEY,
                "SENDGRID_API_HOST": sandbox.url,
                "FOLLOWUP_SENDERS": "1",
                "FOLLOWUP_SEND_CONCURRENCY": str(opts.concurrency),
                "FOLLOWUP_SECRET_KEY": "scale-bench-signing-key",
                "FOLLOWUP_FROM_EMAIL": "jobs@acme.example",
                "PREFECT_WORKER_QUERY_SECONDS": "1",
            }
            logs = [workdir / f"{name}.log" for name in WORKERS]
            workers = [start_worker(name, workdir, {**env, **settings}, log) for name, log in zip(WORKERS, logs)]
            while {w["name"] for w in api(base, "/work_pools/followup/workers/filter", {})
                   if w["status"] == "ONLINE"} < set(WORKERS):  # fmt: skip
                time.sleep(0.5)
            [sweep] = [d["id"] for d in api(base, "/deployments/filter", {}) if d["name"] == "followup-sweep"]
            for index, count in enumerate(counts):
                campaign = f"scale-{count}-runs"
                seed(url, campaign, opts.messages, first_id=1 + index * opts.messages)
                at_start = load()
                trial = {"flow_runs": count, **run_trial(base, sweep, count, logs)}
                trial.update(measure(url, campaign, sandbox, opts.latency_ms), load_average={"start": at_start, "end": load()})
                trials.append(trial)
                # Closed, so the next trial's sweeps do not plan and render this one's nudges meanwhile.
                control.cancel(open_ledger(url), campaign)
    finally:
        stop_workers(workers)
        close_ledgers()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)

    ok = all(t["exactly_once"] and t["states"] == {"COMPLETED": t["flow_runs"]} for t in trials)
    result = {
        "benchmark": "scale_out",
        "how": "Prefect deployment followup-sweep, process work pool, 2 workers (--limit 2 each)",
        "messages_per_trial": opts.messages,
        "latency_ms": opts.latency_ms,
        "ledger": "postgresql",
        "settings": {"senders_per_run": 1, "send_concurrency": opts.concurrency},
        "machine": f"{platform.node()} {os.cpu_count()} cores {platform.machine()} Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "load_average_before": load_before,
        "trials": trials,
        "ok": ok,
    }
    print(json.dumps(result, indent=2))
    table = ", ".join(f"{t['flow_runs']} run{'s' if t['flow_runs'] > 1 else ''}: {t['messages_per_s']:,.0f}/s "
                      f"(wall {t['wall_s']:.0f} s)" for t in trials)  # fmt: skip
    print(f"scale-out over one PostgreSQL ledger, {opts.messages:,} messages per trial at {opts.latency_ms:g} ms: "
          f"{table}; exactly once: {'yes' if ok else 'NO'}; load {load_before[0]}")  # fmt: skip
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
