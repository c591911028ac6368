"""SendGrid's Signed Event Webhook, answered by `followup serve` on a real socket: signatures,
the size cap, events stored once before the answer, joined to their messages, and what they
settle (unknown messages, suppressions); and `followup events ingest` for exported files."""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from typer.testing import CliRunner

from followup.cli import app
from followup.models import Batch, Candidate, Event, Message, Suppression
from followup.store import open_ledger
from followup.tracking.signatures import BadPublicKey, check_signature, load_public_key
from followup.web import serving
from followup.web.events import MAX_BODY_BYTES, PATH

SECRET = SecretStr("event-webhook-tests-secret-0123456789")
SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Signer:
    """SendGrid's side of the signature, with a key pair made for the test."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode()  # as SendGrid's settings page shows it

    def headers(self, body: bytes, at: float | None = None) -> dict[str, str]:
        stamp = str(int(time.time() if at is None else at))
        signature = self.private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "Content-Type": "application/json",
        }


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url + PATH, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, answer.read().decode()


def seed(engine, messages: dict[str, tuple[str, str | None]]) -> None:
    """Candidates and their sent messages: message_key -> (status, X-Message-Id)."""
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        for n, (key, (status, provider_id)) in enumerate(messages.items()):
            candidate = f"c-{n}"
            conn.execute(sa.insert(Candidate).values(
                candidate_id=candidate, email=f"person{n}@example.com", first_name="Ana", last_name="Lima",
                channel="email", first_batch_id="b1", last_batch_id="b1",
            ))  # fmt: skip
            conn.execute(sa.insert(Message).values(
                message_key=key, campaign="spring", candidate_id=candidate, kind="offer", step=0, channel="email",
                status=status, provider_message_id=provider_id, scheduled_for=SENT_AT,
                sent_at=SENT_AT if status == "sent" else None,
            ))  # fmt: skip


def event(sg_event_id: str, name: str, key: str | None = None, provider_id: str = "xmsg", at: datetime = SENT_AT,
          **extra) -> dict:  # fmt: skip
    found = {"email": "person0@example.com", "timestamp": int(at.timestamp()), "event": name,
             "sg_event_id": sg_event_id, "sg_message_id": f"{provider_id}.filter0001.1.0"}  # fmt: skip
    if key is not None:
        found["message_key"] = key  # custom_args come back as top-level keys
    return {**found, **extra}


def stored(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Event.__table__).order_by(Event.id))]


def body_of(events: list[dict]) -> bytes:
    return json.dumps(events).encode()


# --- signatures ---


def test_a_signature_is_checked_for_body_key_age_and_form(signer):
    key = load_public_key(signer.public_b64)
    body = body_of([event("e1", "delivered", "k1")])
    good = signer.headers(body)
    sig, stamp = good["X-Twilio-Email-Event-Webhook-Signature"], good["X-Twilio-Email-Event-Webhook-Timestamp"]
    assert check_signature(key, body, sig, stamp) is None
    assert check_signature(key, body + b" ", sig, stamp).status == 403  # tampered body
    assert check_signature(load_public_key(Signer().public_b64), body, sig, stamp).status == 403  # another key
    old = signer.headers(body, at=time.time() - 11 * 60)
    refusal = check_signature(key, body, old["X-Twilio-Email-Event-Webhook-Signature"],
                              old["X-Twilio-Email-Event-Webhook-Timestamp"])  # fmt: skip
    assert (refusal.status, refusal.reason) == (403, "timestamp more than 10 minutes from now")
    # Ten minutes by the real clock: a signature made 9 minutes ago still passes.
    recent = signer.headers(body, at=time.time() - 9 * 60)
    assert check_signature(key, body, recent["X-Twilio-Email-Event-Webhook-Signature"],
                           recent["X-Twilio-Email-Event-Webhook-Timestamp"]) is None  # fmt: skip
    assert check_signature(key, body, "not base64!!", stamp).status == 400
    assert check_signature(key, body, base64.b64encode(b"not DER").decode(), stamp).status == 403
    assert check_signature(key, body, None, stamp).status == 403
    assert check_signature(key, body, sig, None).status == 403
    assert check_signature(key, body, sig, "yesterday").status == 400


def test_a_public_key_that_is_not_one_is_refused_by_name(signer):
    with pytest.raises(BadPublicKey):
        load_public_key("bm90IGEga2V5")
    pem = "-----BEGIN PUBLIC KEY-----\n" + signer.public_b64 + "\n-----END PUBLIC KEY-----\n"
    assert load_public_key(pem).curve.name == "secp256r1"


def test_the_receiver_answers_each_refusal_with_its_status_and_stores_nothing(ledger_url, signer):
    engine = open_ledger(ledger_url)
    seed(engine, {"k1": ("sent", "xmsg")})
    body = body_of([event("e1", "delivered", "k1")])
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        assert post(url, body + b" ", signer.headers(body))[0] == 403
        assert post(url, body, {"Content-Type": "application/json"})[0] == 403
        stale = signer.headers(body, at=time.time() - 3600)
        assert post(url, body, stale)[0] == 403
        malformed = {**signer.headers(body), "X-Twilio-Email-Event-Webhook-Signature": "%%%"}
        assert post(url, body, malformed)[0] == 400
        not_events = b'{"event": "delivered"}'
        assert post(url, not_events, signer.headers(not_events))[0] == 400
        assert stored(engine) == []
        status, text = post(url, body, signer.headers(body))
    assert status == 200 and json.loads(text) == {"events": 1, "stored": 1, "duplicates": 0}
    assert [row["sg_event_id"] for row in stored(engine)] == ["e1"]


def test_without_a_public_key_every_event_post_is_refused(ledger_url, signer):
    engine = open_ledger(ledger_url)
    body = body_of([event("e1", "delivered", "k1")])
    with serving(engine, SECRET) as url:
        assert post(url, body, signer.headers(body)) == (403, "signature checks are not configured\n")
    assert stored(engine) == []


# --- the size cap ---


def _raw_request(url: str, head: str, chunks: list[bytes]) -> int:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed before the rest was sent
                break
        answer = sock.makefile("rb").readline().decode()
    return int(answer.split()[1])


def test_a_body_over_one_mebibyte_is_refused_before_it_is_read(ledger_url, signer):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        host = urlsplit(url).netloc
        # Content-Length says too much, and no body follows: the answer comes without waiting for one.
        head = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
        assert _raw_request(url, head, []) == 413
        # Chunked: refused as it grows past the cap.
        head = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"x" * 65536
        chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * 17 + [b"0\r\n\r\n"]
        assert _raw_request(url, head, chunks) == 413
        # SendGrid's largest POST, 768 KB, passes the cap (and is refused only as not signed).
        big = b"[" + b" " * (768 * 1000) + b"]"
        assert post(url, big, {"Content-Type": "application/json"})[0] == 403


# --- deliveries ---


def test_duplicates_and_out_of_order_events_are_stored_once_and_joined(ledger_url, signer):
    engine = open_ledger(ledger_url)
    seed(engine, {"k1": ("sent", "xmsg1"), "k2": ("sent", "xmsg2")})
    later = SENT_AT + timedelta(minutes=5)
    first = [event("d1", "delivered", "k1", "xmsg1", later), event("d1", "delivered", "k1", "xmsg1", later)]
    second = [event("p1", "processed", "k1", "xmsg1"), event("d1", "delivered", "k1", "xmsg1", later),
              # no message_key (a custom_args-less event): joined by the sg_message_id's prefix
              event("o2", "open", None, "xmsg2", later, sg_machine_open=True),
              # a key this ledger does not know, and an id unknown too: stored, flagged
              event("x9", "delivered", "k-elsewhere", "xother")]  # fmt: skip
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        assert json.loads(post(url, body_of(first), signer.headers(body_of(first)))[1]) == {
            "events": 2, "stored": 1, "duplicates": 1}
        assert json.loads(post(url, body_of(second), signer.headers(body_of(second)))[1]) == {
            "events": 4, "stored": 3, "duplicates": 1}
        # SendGrid posting the same batch again, as it does when an answer was lost
        assert json.loads(post(url, body_of(second), signer.headers(body_of(second)))[1])["stored"] == 0
    rows = {row["sg_event_id"]: row for row in stored(engine)}
    assert sorted(rows) == ["d1", "o2", "p1", "x9"]
    assert {k: (r["message_key"], r["matched"]) for k, r in rows.items()} == {
        "d1": ("k1", True), "p1": ("k1", True), "o2": ("k2", True), "x9": ("k-elsewhere", False)}
    assert rows["o2"]["machine_open"] is True and rows["d1"]["machine_open"] is False
    assert rows["p1"]["payload"]["sg_message_id"] == "xmsg1.filter0001.1.0"
    assert rows["d1"]["provider_message_id"] == "xmsg1.filter0001.1.0"
    assert rows["d1"]["occurred_at"].replace(tzinfo=timezone.utc) == later  # the event's own timestamp


def test_an_event_settles_an_unknown_message_at_once(ledger_url, signer):
    engine = open_ledger(ledger_url)
    seed(engine, {"k1": ("unknown", None), "k2": ("unknown", None)})
    events = [event("o1", "open", "k2"), event("d1", "delivered", "k1", "xmsg1", SENT_AT + timedelta(seconds=20)),
              event("p1", "processed", "k1", "xmsg1")]  # fmt: skip
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        assert post(url, body_of(events), signer.headers(body_of(events)))[0] == 200
    with engine.connect() as conn:
        rows = {r.message_key: r for r in conn.execute(sa.select(Message.__table__))}
    assert rows["k1"].status == "sent" and rows["k1"].provider_message_id == "xmsg1"
    assert rows["k1"].sent_at.replace(tzinfo=timezone.utc) == SENT_AT  # its earliest settling event
    # An open is not one of the events that say SendGrid took the message (store.recovery).
    assert rows["k2"].status == "unknown"


def test_bounces_unsubscribes_and_spam_reports_suppress_their_address(ledger_url, signer):
    engine = open_ledger(ledger_url)
    seed(engine, {"k1": ("sent", "x1")})
    events = [
        event("b1", "bounce", "k1", email="hard@example.com", type="bounce"),
        event("b2", "bounce", "k1", email="soft@example.com", type="blocked"),
        event("u1", "unsubscribe", "k1", email="unsub@example.com"),
        event("g1", "group_unsubscribe", "k1", email="group@example.com", asm_group_id=7),
        event("s1", "spamreport", "k1", email="spam@example.com"),
        event("s2", "spamreport", "k1", email="spam@example.com"),
        event("d1", "delivered", "k1", email="fine@example.com"),
    ]
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        assert post(url, body_of(events), signer.headers(body_of(events)))[0] == 200
    with engine.connect() as conn:
        found = {r.email: r.reason for r in conn.execute(sa.select(Suppression.__table__))}
    assert found == {"hard@example.com": "bounce", "unsub@example.com": "unsubscribe",
                     "group@example.com": "unsubscribe", "spam@example.com": "spamreport"}  # fmt: skip


def test_ten_thousand_events_from_concurrent_clients_are_each_stored_exactly_once(ledger_url, signer):
    engine = open_ledger(ledger_url)
    seed(engine, {f"k{n}": ("sent", f"x{n}") for n in range(50)})
    events = [event(f"ev-{n:05d}", ("processed", "delivered", "open", "click")[n % 4], f"k{n % 50}", f"x{n % 50}")
              for n in range(10_000)]  # fmt: skip
    batches = [events[start : start + 500] for start in range(0, len(events), 500)]
    # Each batch twice, as SendGrid's at-least-once delivery does, from eight clients at once.
    work = batches + batches[::-1]
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda batch: post(url, body_of(batch), signer.headers(body_of(batch))), work))
    assert {status for status, _ in answers} == {200}
    assert sum(json.loads(text)["stored"] for _, text in answers) == 10_000
    with engine.connect() as conn:
        count, distinct = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(Event.sg_event_id)))).one()
        summaries = conn.execute(sa.select(Message.message_key, Message.delivered_at, Message.last_open_at,
                                           Message.last_click_at)).all()  # fmt: skip
    assert (count, distinct) == (10_000, 10_000)
    # Every message's summary took in its events, whichever POST came first (and none deadlocked).
    kinds = {key: {e["event"] for e in events if e["message_key"] == key} for key in {e["message_key"] for e in events}}
    assert {key: (delivered is not None, opened is not None, clicked is not None)
            for key, delivered, opened, clicked in summaries} == {
        key: ("delivered" in kind, "open" in kind, "click" in kind) for key, kind in kinds.items()}  # fmt: skip


# --- followup events ingest ---


def test_events_ingest_reads_an_array_or_json_lines_and_stores_nothing_twice(ledger_url, tmp_path, monkeypatch):
    engine = open_ledger(ledger_url)
    seed(engine, {"k1": ("unknown", None)})
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", ledger_url)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    array = tmp_path / "events.json"
    array.write_text(json.dumps([event("p1", "processed", "k1", "x1"), event("b1", "bounce", "k1", type="bounce")]))
    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in [event("p1", "processed", "k1", "x1"),
                                                       event("o1", "open", "k9", "nowhere")]) + "\n")  # fmt: skip
    runner = CliRunner()
    now = "2026-03-03T00:00:00+00:00"
    first = runner.invoke(app, ["events", "ingest", str(array), "--now", now, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"file": str(array), "events": 2, "stored": 2, "duplicates": 0, "unmatched": 0,
                                        "settled": 1, "suppressed": 1}  # fmt: skip
    second = runner.invoke(app, ["events", "ingest", str(lines), "--now", now, "--json"])
    assert json.loads(second.stdout) == {"file": str(lines), "events": 2, "stored": 1, "duplicates": 1, "unmatched": 1,
                                         "settled": 0, "suppressed": 0}  # fmt: skip
    again = runner.invoke(app, ["events", "ingest", str(array), "--now", now])
    assert again.exit_code == 0 and "already stored" in again.stdout
    assert len(stored(engine)) == 3


def test_events_ingest_refuses_a_file_that_is_not_events_or_is_stamped_after_now(ledger_url, tmp_path, monkeypatch):
    engine = open_ledger(ledger_url)
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", ledger_url)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(event("p1", "processed", "k1")) + "\nnot json\n")
    result = runner.invoke(app, ["events", "ingest", str(broken)])
    assert result.exit_code == 2 and "line 2 is not JSON" in result.stderr
    ahead = tmp_path / "ahead.json"
    later = event("d1", "delivered", "k1", at=SENT_AT + timedelta(days=2))
    ahead.write_text(json.dumps([event("p1", "processed", "k1"), later]))
    result = runner.invoke(app, ["events", "ingest", str(ahead), "--now", "2026-03-03T00:00:00Z"])
    assert result.exit_code == 2 and "1 event(s) are stamped after --now" in result.stderr
    assert stored(engine) == []


@pytest.mark.parametrize("name, extra, held_back", [
    ("bounce", {"type": "bounce"}, {"email"}),  # the address is bad: the phone still works
    ("spamreport", {}, {"email", "voicemail"}),  # the person said no
])  # fmt: skip
def test_a_suppressing_event_holds_back_the_next_steps_by_the_stop_rules(ledger_url, signer, name, extra, held_back):
    from followup.store.sending import suppress_due

    engine = open_ledger(ledger_url)
    seed(engine, {"k1": ("sent", "x1")})
    with engine.begin() as conn:
        conn.execute(sa.insert(Message), [
            {"message_key": f"next-{channel}", "campaign": "spring", "candidate_id": "c-0", "kind": "offer_nudge",
             "step": 1, "channel": channel, "status": "rendered", "scheduled_for": SENT_AT + timedelta(days=2)}
            for channel in ("email", "voicemail")
        ])  # fmt: skip
    events = [event("e1", name, "k1", "x1", email="person0@example.com", **extra)]
    with serving(engine, SECRET, webhook_public_key=load_public_key(signer.public_b64)) as url:
        assert post(url, body_of(events), signer.headers(body_of(events)))[0] == 200
    assert suppress_due(engine, SENT_AT + timedelta(days=3)) == len(held_back)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(Message.channel, Message.status).where(Message.step == 1)).all())
    assert {channel for channel, status in statuses.items() if status == "suppressed"} == held_back


def test_serve_refuses_a_public_key_that_is_not_one(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", "bm90IGEga2V5")
    result = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "SENDGRID_WEBHOOK_PUBLIC_KEY: not a public key" in result.stderr
