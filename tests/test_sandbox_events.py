"""The sandbox's Event Webhook: signed with its own key pair, checked by the receiver's own check
(`followup serve` on a real socket), stamped with the business clock it is told, batched,
retried while the receiver is down, and the same for the same seed."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from followup.models import Batch, Candidate, Event, Message
from followup.sandbox import Sandbox, SandboxConfig
from followup.sandbox.events import MAX_POST_BYTES, Signer, batches
from followup.store import open_ledger
from followup.tracking.signatures import check_signature, load_public_key
from followup.web import serving
from followup.web.events import PATH

KEY = "SG.sandbox"
BUSINESS = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def send(sandbox_url: str, key: str, to: str = "Ana@Example.com") -> str:
    """One message through /v3/mail/send, as the SendGrid transport posts it; its X-Message-Id."""
    body = {"personalizations": [{"to": [{"email": to}]}], "from": {"email": "jobs@example.com"},
            "subject": "Your offer", "content": [{"type": "text/plain", "value": "Hello"}],
            "custom_args": {"message_key": key, "campaign": "spring"}, "categories": ["candidate-followup"]}  # fmt: skip
    host, port = sandbox_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("POST", "/v3/mail/send", body=json.dumps(body),
                       headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})  # fmt: skip
    answer = connection.getresponse()
    answer.read()
    connection.close()
    assert answer.status == 202
    return answer.headers["X-Message-Id"]


def seed_messages(engine, keys: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        conn.execute(sa.insert(Candidate).values(candidate_id="c1", email="Ana@Example.com", first_name="Ana",
                                                 last_name="Lima", channel="email", first_batch_id="b1",
                                                 last_batch_id="b1"))  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": key, "campaign": "spring", "candidate_id": "c1", "kind": "offer", "step": n,
             "channel": "email", "status": "sending", "scheduled_for": BUSINESS} for n, key in enumerate(keys)])  # fmt: skip


def events(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Event.__table__).order_by(Event.sg_event_id))]


def test_its_events_pass_the_receivers_check_and_carry_the_business_clock(ledger_url):
    engine = open_ledger(ledger_url)
    seed_messages(engine, ["k1", "k2"])
    signer_key = load_public_key(Signer(7).public_key)
    with serving(engine, SecretStr("sandbox-events-secret-0123456789"), webhook_public_key=signer_key) as receiver:
        config = SandboxConfig(event_interval_s=0.05, seed=7, webhook_url=receiver + PATH)
        with Sandbox(config) as sandbox:
            assert sandbox.public_key() == Signer(7).public_key
            sandbox.set_clock(BUSINESS)
            ids = [send(sandbox.url, "k1"), send(sandbox.url, "k2")]
            stats = sandbox.wait_for_events(timeout=20)
    assert stats["events_posted"] == 4
    stored = events(engine)
    assert sorted((e["message_key"], e["event"]) for e in stored) == [
        ("k1", "delivered"), ("k1", "processed"), ("k2", "delivered"), ("k2", "processed")]
    assert all(e["matched"] for e in stored)
    assert {e["provider_message_id"].split(".")[0] for e in stored} == set(ids)
    processed = [e for e in stored if e["event"] == "processed"]
    assert {e["occurred_at"].replace(tzinfo=timezone.utc) for e in processed} == {BUSINESS}
    assert all(e["payload"]["email"] == "ana@example.com" for e in stored)  # as SendGrid reports addresses
    assert all(e["payload"]["campaign"] == "spring" for e in stored)  # custom_args as top-level keys


class _Recorder(BaseHTTPRequestHandler):
    answer = 200
    posts: list = []

    def do_POST(self):  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((dict(self.headers), body, time.time()))
        self.send_response(type(self).answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    class Recorder(_Recorder):
        posts = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, Recorder
    server.shutdown()
    server.server_close()


def test_signatures_use_the_real_clock_and_a_tampered_post_fails(recorder):
    server, handler = recorder
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with Sandbox(SandboxConfig(event_interval_s=0.05, webhook_url=url, seed=3)) as sandbox:
        sandbox.set_clock(datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc))  # a business clock far in the past
        send(sandbox.url, "k1")
        sandbox.wait_for_events(timeout=20)
        key = load_public_key(sandbox.public_key())
    headers, body, received = handler.posts[0]
    signature = headers["X-Twilio-Email-Event-Webhook-Signature"]
    stamp = headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    assert abs(int(stamp) - received) < 5  # real time, or the receiver would refuse it as stale
    assert check_signature(key, body, signature, stamp) is None
    assert check_signature(key, body.replace(b"delivered", b"bounce"), signature, stamp).status == 403
    assert json.loads(body)[0]["timestamp"] == int(datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc).timestamp())


def test_a_receiver_that_is_down_gets_every_event_once_it_is_up(ledger_url):
    engine = open_ledger(ledger_url)
    seed_messages(engine, [f"k{n}" for n in range(5)])
    with socket.socket() as probe:  # a free port with nobody listening yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = SecretStr("sandbox-events-secret-0123456789")
    config = SandboxConfig(event_interval_s=0.05, seed=1, webhook_url=f"http://127.0.0.1:{port}{PATH}")
    with Sandbox(config) as sandbox:
        for n in range(5):
            send(sandbox.url, f"k{n}")
        time.sleep(0.5)
        assert sandbox.stats()["events_waiting"] == 10  # refused connections: kept, posted again later
        with serving(engine, secret, port=port, webhook_public_key=load_public_key(sandbox.public_key())):
            stats = sandbox.wait_for_events(timeout=30)
    assert stats["events_posted"] == 10 and len(events(engine)) == 10


def test_duplicates_are_posted_and_stored_once_and_the_same_seed_repeats_its_ids(ledger_url):
    engine = open_ledger(ledger_url)
    seed_messages(engine, ["k1", "k2", "k3"])
    secret = SecretStr("sandbox-events-secret-0123456789")
    with serving(engine, secret, webhook_public_key=load_public_key(Signer(11).public_key)) as receiver:
        config = SandboxConfig(event_interval_s=0.05, seed=11, webhook_url=receiver + PATH, duplicate_rate=1.0)
        with Sandbox(config) as sandbox:
            for key in ("k1", "k2", "k3"):
                send(sandbox.url, key)
            stats = sandbox.wait_for_events(timeout=20)
    assert stats["events_posted"] == 12  # each event twice
    first = [e["sg_event_id"] for e in events(engine)]
    assert len(first) == 6
    # Another run of the same world: the same ids; another seed: others.
    from followup.sandbox.events import event_id

    assert sorted(event_id(11, key, "ana@example.com", name) for key in ("k1", "k2", "k3")
                  for name in ("processed", "delivered")) == sorted(first)  # fmt: skip
    assert event_id(12, "k1", "ana@example.com", "processed") not in first
    assert Signer(11).public_key == Signer(11).public_key != Signer(12).public_key


def test_posts_are_at_most_768_kb_and_keep_every_event_in_order():
    encoded = [json.dumps({"sg_event_id": f"e{n}", "pad": "x" * 900}).encode() for n in range(3000)]
    posts = batches(encoded)
    assert len(posts) > 3 and all(len(post) <= MAX_POST_BYTES for post in posts)
    assert [e["sg_event_id"] for post in posts for e in json.loads(post)] == [f"e{n}" for n in range(3000)]


# --- the candidates' behaviour ---


def test_the_behaviour_model_acts_out_its_documented_rates_and_repeats_for_a_seed():
    from followup.sandbox import behaviour

    params = behaviour.DEFAULT
    tuesday = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)
    worlds = [behaviour.act(5, f"k{n}", f"p{n}@example.com", tuesday, step=0) for n in range(20_000)]
    bounced = sum(b for b, _ in worlds) / len(worlds)
    delivered = [actions for b, actions in worlds if not b]
    machine = [a for actions in delivered for when, a in actions if a.get("sg_machine_open")]
    human = sum(any(a["event"] == "open" and not a.get("sg_machine_open") for _, a in actions) for actions in delivered)
    clicks = sum(any(a["event"] == "click" for _, a in actions) for actions in delivered)
    weekday = params.open_by_weekday[1] / (sum(params.open_by_weekday) / 7)
    assert abs(bounced - params.hard_bounce) < 0.003
    assert abs(len(machine) / len(delivered) - params.apple_mpp) < 0.02
    assert abs(human / len(delivered) - params.human_open * weekday) < 0.02
    assert abs(clicks / human - params.click_after_open) < 0.02
    # Apple's fetches come seconds after delivery; a person's open later.
    assert all(0 < (when - tuesday).total_seconds() <= 8 for actions in delivered for when, a in actions
               if a.get("sg_machine_open"))  # fmt: skip
    # The fourth email on loses about three times as many to unsubscribes.
    late = [behaviour.act(5, f"k{n}", f"p{n}@example.com", tuesday, step=3) for n in range(20_000)]
    early_unsubscribes = sum(any(a["event"] == "unsubscribe" for _, a in actions) for _, actions in worlds)
    late_unsubscribes = sum(any(a["event"] == "unsubscribe" for _, a in actions) for _, actions in late)
    assert 2 < late_unsubscribes / max(early_unsubscribes, 1) < 4.5
    # The same seed, the same world; another seed, another.
    assert behaviour.act(5, "k1", "p1@example.com", tuesday, 0) == worlds[1]
    assert [behaviour.act(6, f"k{n}", f"p{n}@example.com", tuesday, 0) for n in range(50)] != worlds[:50]


def test_recipients_act_as_the_business_clock_advances_and_reach_the_warm_list(ledger_url):
    from followup.stages.engagement import EngagementSetup, candidate_engagement

    engine = open_ledger(ledger_url)
    keys = [f"k{n}" for n in range(30)]
    seed_messages(engine, keys)
    with engine.begin() as conn:  # sent, as the sender would have marked them
        conn.execute(sa.update(Message).values(status="sent", sent_at=BUSINESS))
    secret = SecretStr("sandbox-events-secret-0123456789")
    with serving(engine, secret, webhook_public_key=load_public_key(Signer(4).public_key)) as receiver:
        config = SandboxConfig(event_interval_s=0.05, seed=4, webhook_url=receiver + PATH, behaviour=True)
        with Sandbox(config) as sandbox:
            sandbox.set_clock(BUSINESS)
            for key in keys:
                send(sandbox.url, key)
            sandbox.wait_for_events(timeout=20)
            before = {e["event"] for e in events(engine)}
            sandbox.set_clock(BUSINESS + timedelta(days=10))
            sandbox.wait_for_events(timeout=20)
    stored = events(engine)
    assert before <= {"processed", "delivered", "bounce", "open"}  # at most Apple's fetches on arrival
    assert {"open", "click"} <= {e["event"] for e in stored}
    assert all(BUSINESS.timestamp() <= e["payload"]["timestamp"] <= (BUSINESS + timedelta(days=10)).timestamp()
               for e in stored)  # fmt: skip
    # One candidate got all 30 messages: the model's human opens and clicks make them warm.
    (listed,) = candidate_engagement(EngagementSetup(str(engine.url)), BUSINESS + timedelta(days=10))
    assert listed.engagement.state == "warm"
