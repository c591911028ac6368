"""Drill: the webhook receiver (`followup serve`: the ASGI app under uvicorn) is down for a while,
and the sandbox, as SendGrid does, posts again with growing waits what was not answered 2xx.

Afterwards every event the sandbox generated is stored exactly once (by sg_event_id, however
often it was posted), and so is every reply Inbound Parse posted, each with its response.

- late: the receiver is not up yet while the messages go out; it starts a second later. Events
  are posted twice as well (as SendGrid does), so the receiver's dedupe is exercised.
- restarted: the receiver is stopped after the first events, while the candidates (the sandbox's
  behaviour model) open, click, bounce, unsubscribe and reply over the next days; it comes back
  a second later.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from drillkit import backend, check_delivery, envelope_for
from followup.models import Event, Reply, Response
from followup.sandbox import Sandbox, SandboxConfig
from followup.sandbox.events import Signer, event_id
from followup.sending import SendPolicy, send_due
from followup.stages.replies import InboundSetup
from followup.store import open_ledger
from followup.store.owners import Owner
from followup.tracking.signatures import load_public_key
from followup.transports.sendgrid import SendGridTransport
from followup.web import serving
from followup.web.events import PATH as EVENTS_PATH
from followup.web.inbound import PATH as INBOUND_PATH

pytestmark = pytest.mark.drill

CONCURRENCY = 8
SECRET = SecretStr("receiver-down-drill-secret-0123456789")
TOKEN = "receiver-down-drill-token-0123456789abcdef"
BUSINESS = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)  # a Tuesday morning
DOWN_S = 1.0


def free_port() -> int:
    with socket.socket() as probe:  # nobody listens there until the receiver starts
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def receiver(engine, port: int, seed: int):
    """`followup serve` on `port`: events checked with the sandbox's key, replies by its token."""
    inbound = InboundSetup(SecretStr(TOKEN), None, "jobs@acme.example")  # replies matched by their sender
    return serving(engine, SECRET, port=port, webhook_public_key=load_public_key(Signer(seed).public_key),
                   inbound_setup=inbound)  # fmt: skip


def with_features(row: dict):
    """The drill's email with the custom_args the behaviour model reads (kind, step, channel)."""
    envelope = envelope_for(row)
    envelope.custom_args.update(kind=row["kind"], step=str(row["step"]), channel=row["channel"],
                                candidate_id=row["candidate_id"])  # fmt: skip
    return envelope


def send_all(engine, sandbox: Sandbox, build=envelope_for):
    transport = SendGridTransport(sandbox.config.api_key, host=sandbox.url, pool_size=CONCURRENCY)
    try:
        return send_due(engine, transport, build, owner=Owner.current(), policy=SendPolicy(concurrency=CONCURRENCY),
                        business_now=BUSINESS)  # fmt: skip
    finally:
        transport.close()


def drill_round(ledger_url: str, seed_ledger, messages: int, **sandbox) -> tuple:
    """A ledger with `messages` due, a free port for the receiver, and the sandbox's settings posting to it."""
    engine = open_ledger(ledger_url)
    keys = seed_ledger(engine, messages, BUSINESS - timedelta(minutes=5))
    port = free_port()
    config = SandboxConfig(latency_ms=10, validate_share=0.0, event_interval_s=0.05,
                           webhook_url=f"http://127.0.0.1:{port}{EVENTS_PATH}", **sandbox)  # fmt: skip
    return engine, keys, port, config


def stored(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_events_posted_while_the_receiver_is_down_are_stored_once_when_it_comes_up(ledger_url, seed):
    messages = 200
    engine, keys, port, config = drill_round(ledger_url, seed, messages, seed=21, duplicate_rate=0.5)
    with Sandbox(config) as sandbox:
        sandbox.set_clock(BUSINESS)
        report = send_all(engine, sandbox)
        time.sleep(DOWN_S)
        down = sandbox.stats()
        with receiver(engine, port, config.seed):
            up = sandbox.wait_for_events(timeout=60)
        accepted = sandbox.message_keys()

    delivery = check_delivery(engine, accepted, keys)
    assert report.sent == messages and delivery.sent == messages
    assert down["events_posted"] == 0 and down["events_waiting"] > 2 * messages  # each twice, some three times
    # Every event the sandbox made for these messages, once: processed and delivered for each.
    expected = {event_id(config.seed, key, f"{key.split(':')[1]}@example.com", kind)
                for key in keys for kind in ("processed", "delivered")}  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Event.sg_event_id, Event.matched)).all()
    assert Counter(sg_event_id for sg_event_id, _ in rows) == Counter(expected)
    assert all(matched for _, matched in rows)
    assert up["events_posted"] > len(expected)  # the duplicates were posted too, and stored once
    print(f"\ndrill receiver-late [{backend(engine)}]: down {DOWN_S:.0f}s, "
          f"{down['events_waiting']} events waiting; then {up['events_posted']} posted, {len(rows)} stored "
          f"(= {len(expected)} made, duplicates dropped); {delivery.line()}")


def test_a_receiver_stopped_and_restarted_loses_no_event_and_no_reply(ledger_url, seed):
    messages = 200
    engine, keys, port, config = drill_round(ledger_url, seed, messages, seed=22, behaviour=True)
    config = dataclasses.replace(config, inbound_url=f"http://127.0.0.1:{port}{INBOUND_PATH}/{TOKEN}")
    with Sandbox(config) as sandbox:
        sandbox.set_clock(BUSINESS)
        with receiver(engine, port, config.seed):
            report = send_all(engine, sandbox, with_features)
            first = sandbox.wait_for_events(timeout=60)
        # Down: the candidates act and reply over the next days, and nobody takes it in.
        sandbox.set_clock(BUSINESS + timedelta(days=6))
        time.sleep(DOWN_S)
        down = sandbox.stats()
        with receiver(engine, port, config.seed):
            up = sandbox.wait_for_events(timeout=60)
        accepted = sandbox.message_keys()

    delivery = check_delivery(engine, accepted, keys)
    assert report.sent == messages and delivery.sent == messages
    assert first["events_posted"] >= 2 * messages and first["replies_posted"] == 0
    assert down["events_posted"] == first["events_posted"] and down["events_waiting"] > 0
    assert down["replies_waiting"] > 0 and down["replies_posted"] == 0
    # Every event posted and acknowledged is stored once; none waits, none was given up.
    assert up["events_waiting"] == 0 and stored(engine, Event) == up["events_posted"]
    assert up["replies_waiting"] == 0 and up["replies_dropped"] == 0
    with engine.connect() as conn:
        replies = conn.execute(sa.select(Reply.message_key, Reply.matched_by)).all()
        responses = Counter(conn.execute(sa.select(Response.outcome)).scalars())
    assert len(replies) == up["replies_posted"] >= down["replies_waiting"]  # each stored once
    assert {route for _, route in replies} == {"sender"} and {key for key, _ in replies} <= set(keys)
    assert responses.total() == len(replies)  # every reply has its response
    print(f"\ndrill receiver-restarted [{backend(engine)}]: {first['events_posted']} events before the stop; down "
          f"{DOWN_S:.0f}s with {down['events_waiting']} events and {down['replies_waiting']} replies waiting; "
          f"after: {stored(engine, Event)} events and {len(replies)} replies stored once, "
          f"responses {dict(responses)}; {delivery.line()}")
