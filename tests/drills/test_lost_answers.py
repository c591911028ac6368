"""Drill: SendGrid answers slower than the transport waits, and a later sweep comes round.

The sandbox takes each message as it arrives and answers a second later; the transport gives up
after 0.2 s. The request went out, so the message may be (here: is) on its way: it must become
`unknown` at once and never be sent again, by this run's retries or by a later sweep. SendGrid's
events for it, once they arrive, settle it as sent. Each message key is accepted at most once.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from drillkit import backend, check_delivery, envelope_for
from followup.models import Event, Message
from followup.sandbox import Sandbox, SandboxConfig
from followup.sending import SendPolicy, send_due
from followup.store import open_ledger, recovery
from followup.store.owners import Owner
from followup.transports.sendgrid import SendGridTransport

pytestmark = pytest.mark.drill

MESSAGES = 24
CONCURRENCY = 8
# Quick retries, all due within the run: a lost answer treated as retryable is resent at once.
POLICY = SendPolicy(concurrency=CONCURRENCY, base_backoff_s=0.05, max_backoff_s=0.2, max_attempts=3)


@pytest.mark.parametrize("pooled", [True, False], ids=["pooled", "official"])
def test_answers_slower_than_the_timeout_never_send_a_message_twice(ledger_url, pooled, seed):
    engine = open_ledger(ledger_url)
    now = datetime.now(timezone.utc)
    keys = seed(engine, MESSAGES, now - timedelta(minutes=5))
    with Sandbox(SandboxConfig(latency_ms=1000, validate_share=0.0)) as sandbox:
        transport = SendGridTransport(
            sandbox.config.api_key, host=sandbox.url, timeout=0.2, pooled=pooled, pool_size=CONCURRENCY
        )
        run = dict(owner=Owner.current(), policy=POLICY, business_now=now)
        first = send_due(engine, transport, envelope_for, **run)
        an_hour_later = time.time() + 3600  # a later sweep: every backoff has run out
        later = send_due(engine, transport, envelope_for, real_clock=lambda: an_hour_later, **run)
        transport.close()
        accepted = sandbox.message_keys()

    before_events = check_delivery(engine, accepted, keys)
    assert before_events.accepted == MESSAGES  # the sandbox took every one before it answered
    assert (first.unknown, first.sent, first.retry_wait, first.failed) == (MESSAGES, 0, 0, 0)
    assert later.requests == 0
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(Message.status)).scalars()) == {"unknown"}

    # SendGrid's `processed` events, as the Event Webhook stores them, settle every message.
    with engine.begin() as conn:
        conn.execute(sa.insert(Event), [
            {"sg_event_id": f"ev-{message_id}", "message_key": key,
             "provider_message_id": f"{message_id}.filterdrill.0", "event": "processed", "occurred_at": now,
             "payload": {}}
            for message_id, key in accepted
        ])  # fmt: skip
    assert recovery.reconcile_unknown(engine) == MESSAGES
    with engine.connect() as conn:
        settled = dict(conn.execute(sa.select(Message.message_key, Message.provider_message_id)).all())
    assert settled == {key: message_id for message_id, key in accepted}
    after_events = check_delivery(engine, accepted, keys)
    print(f"\ndrill lost-answers [{backend(engine)}, {'pooled' if pooled else 'official'}]: first run "
          f"{first.requests} requests, {first.unknown} unknown; later sweep {later.requests} requests; "
          f"before events: {before_events.line()}; after: {after_events.line()}")
