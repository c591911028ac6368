"""Drill: a sender killed with SIGKILL mid-run, then restarted, sends no message twice.

A sender process works through a SQLite ledger against the sandbox (30 ms latency, 8 requests
in flight) and is killed outright partway. The restart settles the dead sender's claims
(recover_dead_claims) and sends the rest. Every message must then have reached the sandbox
exactly once, or be `unknown` for a person to decide; and there can be no more unknowns than
requests were in flight.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from followup.sending import SendPolicy, send_due
from followup.models import Event, Message
from followup.sandbox import Sandbox, SandboxConfig
from followup.store import open_ledger, recovery
from followup.store.owners import Owner
from followup.transports.sendgrid import SendGridTransport

pytestmark = pytest.mark.drill

CHILD = Path(__file__).with_name("sender_child.py")
MESSAGES = 400
CONCURRENCY = 8


def kill_partway(ledger_url: str, sandbox: Sandbox, after: int) -> None:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), ledger_url, sandbox.url, sandbox.config.api_key, str(CONCURRENCY)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while sandbox.stats()["accepted"] < after:
            assert child.poll() is None, "the sender ended before it could be killed"
            assert time.monotonic() < deadline, "the sender never got going"
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def statuses(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Message.message_key, Message.status)).all())


@pytest.mark.parametrize("webhook_events", [False, True], ids=["no-events", "events-arrived"])
def test_a_sender_killed_mid_run_and_restarted_sends_nothing_twice(tmp_path, webhook_events, seed):
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = open_ledger(ledger_url)
    keys = seed(engine, MESSAGES, datetime.now(timezone.utc) - timedelta(minutes=5))
    with Sandbox(SandboxConfig(latency_ms=30, validate_share=0.0)) as sandbox:
        kill_partway(ledger_url, sandbox, after=MESSAGES // 4)

        claimed_at_death = Counter(statuses(engine).values())["sending"]
        assert 0 < claimed_at_death <= CONCURRENCY
        if webhook_events:
            # SendGrid's Event Webhook reports what it accepted: 'processed', by message_key.
            with engine.begin() as conn:
                conn.execute(sa.insert(Event), [
                    {"sg_event_id": f"ev-{m['x_message_id']}", "message_key": m["body"]["custom_args"]["message_key"],
                     "provider_message_id": f"{m['x_message_id']}.filterdrill.0", "event": "processed",
                     "occurred_at": datetime.now(timezone.utc), "payload": {}}
                    for m in sandbox.messages()
                ])  # fmt: skip

        recovered = recovery.recover_dead_claims(engine)
        assert recovered["alive"] == 0 and recovered["sent"] + recovered["unknown"] == claimed_at_death

        transport = SendGridTransport(sandbox.config.api_key, host=sandbox.url, pool_size=CONCURRENCY)
        report = send_due(
            engine,
            transport,
            runpy.run_path(str(CHILD))["envelope_for"],
            owner=Owner.current(),
            policy=SendPolicy(concurrency=CONCURRENCY),
            business_now=datetime.now(timezone.utc),
        )
        transport.close()
        accepted = sandbox.messages()

    arrivals = Counter(m["body"]["custom_args"]["message_key"] for m in accepted)
    final = statuses(engine)
    unknown = {key for key, status in final.items() if status == "unknown"}
    assert max(arrivals.values()) == 1  # nothing twice
    assert set(arrivals) | unknown == set(keys)  # everything arrived, or waits for a person
    assert {final[key] for key in set(keys) - unknown} == {"sent"}
    assert len(unknown) <= CONCURRENCY and report.unknown == 0
    if webhook_events:
        assert not unknown & set(arrivals)  # the events proved every message that did arrive
        with engine.connect() as conn:
            provider_ids = dict(conn.execute(sa.select(Message.message_key, Message.provider_message_id)).all())
        assert all(provider_ids[m["body"]["custom_args"]["message_key"]] == m["x_message_id"] for m in accepted)
    else:
        assert recovered["unknown"] == claimed_at_death
    assert len(unknown) == recovered["unknown"]  # the restart resent none of them
