"""Drill: a sender killed with SIGKILL mid-run, then restarted, sends no message twice.

A sender process works through the ledger (SQLite, and PostgreSQL) against the sandbox (30 ms
latency, 8 requests in flight) and is killed outright partway. The restart settles the dead
sender's claims (recover_dead_claims) and sends the rest. Every message must then have reached
the sandbox exactly once, or be `unknown` for a person to decide; and there can be no more
unknowns than requests were in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from drillkit import backend, check_delivery, envelope_for, statuses
from followup.models import Event
from followup.sandbox import Sandbox, SandboxConfig
from followup.sending import SendPolicy, send_due
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


@pytest.mark.parametrize("webhook_events", [False, True], ids=["no-events", "events-arrived"])
def test_a_sender_killed_mid_run_and_restarted_sends_nothing_twice(ledger_url, webhook_events, seed):
    engine = open_ledger(ledger_url)
    keys = seed(engine, MESSAGES, datetime.now(timezone.utc) - timedelta(minutes=5))
    with Sandbox(SandboxConfig(latency_ms=30, validate_share=0.0)) as sandbox:
        kill_partway(ledger_url, sandbox, after=MESSAGES // 4)

        claimed_at_death = Counter(statuses(engine).values())["sending"]
        accepted_at_death = sandbox.stats()["accepted"]
        assert 0 < claimed_at_death <= CONCURRENCY
        if webhook_events:
            # SendGrid's Event Webhook reports what it accepted: 'processed', by message_key.
            with engine.begin() as conn:
                conn.execute(sa.insert(Event), [
                    {"sg_event_id": f"ev-{message_id}", "message_key": key,
                     "provider_message_id": f"{message_id}.filterdrill.0", "event": "processed",
                     "occurred_at": datetime.now(timezone.utc), "payload": {}}
                    for message_id, key in sandbox.message_keys()
                ])  # fmt: skip

        recovered = recovery.recover_dead_claims(engine)
        assert recovered["alive"] == 0 and recovered["sent"] + recovered["unknown"] == claimed_at_death

        transport = SendGridTransport(sandbox.config.api_key, host=sandbox.url, pool_size=CONCURRENCY)
        report = send_due(
            engine,
            transport,
            envelope_for,
            owner=Owner.current(),
            policy=SendPolicy(concurrency=CONCURRENCY),
            business_now=datetime.now(timezone.utc),
        )
        transport.close()
        accepted = sandbox.message_keys()

    delivery = check_delivery(engine, accepted, keys)
    unknown = {key for key, status in statuses(engine).items() if status == "unknown"}
    assert len(unknown) <= CONCURRENCY and report.unknown == 0
    if webhook_events:
        assert not unknown & {key for _, key in accepted}  # the events proved every message that did arrive
    else:
        assert recovered["unknown"] == claimed_at_death
    assert len(unknown) == recovered["unknown"]  # the restart resent none of them
    print(f"\ndrill kill-restart [{backend(engine)}, {'events' if webhook_events else 'no events'}]: killed after "
          f"{accepted_at_death} accepted with {claimed_at_death} claimed; recovery {recovered['sent']} sent, "
          f"{recovered['unknown']} unknown; restart sent {report.sent}; {delivery.line()}")
