"""Scale-out as an operator runs it: the deployed campaign and sweep flows on a process work pool,
two workers, several flow runs at once over one PostgreSQL ledger, sending to the sandbox.
Every message goes out exactly once, whichever worker's run claimed it."""

from __future__ import annotations

import csv
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from followup.channels import delivered_by
from followup.models import Message
from followup.sandbox import Sandbox, SandboxConfig
from followup.samples import generate_batch, write_batch
from tests.prefect_server import PREFECT, api, local_prefect_server, start_worker, stop_workers

ROOT = Path(__file__).resolve().parent.parent
WORKERS = ("scale-a", "scale-b")
BATCHES, SWEEPS, ROWS = 3, 3, 60
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def prefect(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([*PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def wait_for(what: str, check, timeout: float, logs: list[Path]):
    """`check()`'s first true answer; the test fails with the workers' logs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (answer := check()):
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
            pytest.fail(f"{what} after {timeout:.0f} s\n{tails}")
        time.sleep(0.5)
    return answer


@pytest.fixture
def sandbox():
    # A few ms per request: runs overlap without the test taking long.
    with Sandbox(SandboxConfig(latency_ms=5)) as running:
        yield running


@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_two_workers_running_campaigns_and_sweeps_at_once_send_every_message_exactly_once(
    ledger_url, sandbox, tmp_path
):
    data_dir = tmp_path / "data"  # shared by both workers, as a network share would be: the call sheets
    batches = []
    for n in range(BATCHES):
        frame = generate_batch(ROWS, seed=100 + n)
        # Seeds repeat candidate ids: each batch its own, as each round of an ATS has.
        frame["candidate_id"] = f"R{n}-" + frame["candidate_id"].astype(str)
        batches.append(write_batch(frame, tmp_path / f"round-{n}.csv"))

    with local_prefect_server(tmp_path / "prefect-home", PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false") as (
        base,
        env,
    ):
        prefect({**env, "FOLLOWUP_HOME": str(ROOT)}, "work-pool", "create", "followup", "--type", "process")
        prefect({**env, "FOLLOWUP_HOME": str(ROOT)}, "--no-prompt", "deploy", "-n", "campaign", "-n", "followup-sweep")
        settings = {
            "FOLLOWUP_HOME": str(ROOT),
            "FOLLOWUP_DATABASE_URL": ledger_url,
            "FOLLOWUP_DATA_DIR": str(data_dir),
            "FOLLOWUP_TRANSPORT": "sendgrid",
            "SENDGRID_API_KEY": sandbox.config.api_key,
            "SENDGRID_API_HOST": sandbox.url,
            "FOLLOWUP_CADENCE_FILE": str(ROOT / "tests" / "cadences" / "anytime.yaml"),
            "FOLLOWUP_SENDERS": "1",
            "FOLLOWUP_SEND_CONCURRENCY": "2",
            "FOLLOWUP_SECRET_KEY": "scale-out-test-signing-key",
            "FOLLOWUP_FROM_EMAIL": "jobs@acme.example",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
        logs = [tmp_path / f"{name}.log" for name in WORKERS]
        workers = [start_worker(name, tmp_path, {**env, **settings}, log) for name, log in zip(WORKERS, logs)]
        try:
            # Both polling before the first run exists, so that neither takes every run.
            wait_for("the workers did not come online", lambda: {
                w["name"] for w in api(base, "/work_pools/followup/workers/filter", {}) if w["status"] == "ONLINE"
            } >= set(WORKERS), 120, logs)  # fmt: skip
            deployments = {d["name"]: d["id"] for d in api(base, "/deployments/filter", {})}
            runs = [api(base, f"/deployments/{deployments['campaign']}/create_flow_run",
                        {"parameters": {"path": str(path)}})["id"] for path in batches]  # fmt: skip
            runs += [api(base, f"/deployments/{deployments['followup-sweep']}/create_flow_run", {})["id"]
                     for _ in range(SWEEPS)]  # fmt: skip

            def finished():
                got = api(base, "/flow_runs/filter", {"flow_runs": {"id": {"any_": runs}}})
                return got if all(run["state_type"] in TERMINAL for run in got) else None

            done = wait_for("the flow runs did not finish", finished, 300, logs)
        finally:
            stop_workers(workers)

    assert sorted(run["state_type"] for run in done) == ["COMPLETED"] * len(runs), [
        (run["name"], run["state_type"], run["state"]["message"]) for run in done
    ]
    by_worker = Counter(run["labels"].get("prefect.worker.name") for run in done)
    assert set(by_worker) == set(WORKERS), by_worker  # both workers ran some of the runs

    engine = sa.create_engine(ledger_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Message.message_key, Message.campaign, Message.channel, Message.status,
                                      Message.provider_message_id)).all()  # fmt: skip
    engine.dispose()
    campaigns = {row.campaign for row in rows}
    assert len(campaigns) == BATCHES and {row.campaign for row in rows if row.status == "sent"} == campaigns
    assert [row.message_key for row in rows if row.status == "sending"] == []

    accepted = sandbox.message_keys()
    arrivals = Counter(key for _, key in accepted)
    assert [key for key, n in arrivals.items() if n > 1] == []
    by_mail = {row.message_key: row.provider_message_id for row in rows
               if row.status == "sent" and row.channel in delivered_by("email")}  # fmt: skip
    assert by_mail and dict((key, message_id) for message_id, key in accepted) == by_mail

    called = []
    for sheet in (data_dir / "call_sheets").glob("*.csv"):
        with sheet.open(encoding="utf-8", newline="") as handle:
            called += [row["message_key"] for row in csv.DictReader(handle)]
    on_sheets = sorted(row.message_key for row in rows
                       if row.status == "sent" and row.channel in delivered_by("call_sheet"))  # fmt: skip
    assert on_sheets and sorted(called) == on_sheets
    print(f"{len(runs)} flow runs by worker {dict(by_worker)}: {len(rows)} messages, {len(by_mail)} emails "
          f"accepted once each, {len(on_sheets)} calls on the sheets once each, {dict(Counter(r.status.value for r in rows))}")
