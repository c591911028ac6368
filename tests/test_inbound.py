"""Replies through SendGrid's Inbound Parse, answered by `followup serve` on a real socket: the
per-message reply addresses, matching by each route, the token, a reply stored and forwarded once,
an unmatched reply kept, and what a reply causes (its response, an opt-out's suppression, an
out-of-office's return date)."""

from __future__ import annotations

import email
import email.policy
import json
import urllib.request
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from followup.cadence.planner import _ISO_DAY
from followup.models import Batch, Candidate, Decision, Message, Reply, Response, Suppression
from followup.sending.envelopes import EnvelopeBuilder
from followup.sending.setup import EmailSetup, SendSetup
from followup.stages.replies import InboundSetup, forward_replies
from followup.store import open_ledger
from followup.store.owners import Owner
from followup.store.replies import claim_forwards
from followup.tracking.inbound import NotInbound, parse_form
from followup.tracking.reply_address import ReplyAddresses
from followup.transports.base import SendOutcome
from followup.transports.memory import MemoryTransport
from followup.transports.mime import build_email_message
from followup.transports.sendgrid import build_request_body
from followup.web import serving
from followup.web.inbound import PATH

SECRET = SecretStr("inbound-tests-secret-0123456789abcdef")
TOKEN = "inbound-token-0123456789abcdefghij"
DOMAIN = "replies.acme.example"
ADDRESSES = ReplyAddresses(DOMAIN, SECRET)
SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- the addresses ---


def test_a_reply_address_names_its_message_and_cannot_be_forged():
    address = ADDRESSES.address(4242)
    local, _, domain = address.partition("@")
    assert domain == DOMAIN and len(local) <= 64 and local == local.lower()
    assert ADDRESSES.find([f"Sam Recruiter <{address}>"]) == 4242
    assert ADDRESSES.find([address.upper()]) == 4242  # a mail system that changed the case
    assert ADDRESSES.find([ADDRESSES.message_id_header(7)]) == 7  # In-Reply-To: our Message-ID
    forged = local[:-1] + ("a" if local[-1] != "a" else "b")
    assert ADDRESSES.find([f"{forged}@{DOMAIN}"]) is None
    assert ADDRESSES.find([address.replace(DOMAIN, "elsewhere.example")]) is None
    other_secret = ReplyAddresses(DOMAIN, SecretStr("another-secret-0123456789"))
    assert other_secret.find([address]) is None
    # Another message's signature on this id does not pass either.
    assert ADDRESSES.find([address.replace("reply-1092-", "reply-1093-")]) is None


def envelope_row(**changes) -> dict:
    row = {"id": 12, "message_key": "k" * 64, "campaign": "spring", "candidate_id": "c-0", "decision_id": 1,
           "kind": "offer", "step": 0, "channel": "email", "variant": None, "subject": "Your offer",
           "text_body": "Hello", "html_body": None, "headers": None, "attachments": None, "call_sheet": None,
           "email": "ana@example.org", "first_name": "Ana", "last_name": "Lima", "locale": None,
           "recruiter_name": "Sam Recruiter", "recruiter_email": "sam@acme.example"}  # fmt: skip
    return {**row, **changes}


def test_with_a_reply_domain_an_email_replies_to_its_own_address_under_the_recruiters_name():
    envelope = EnvelopeBuilder("jobs@acme.example", "Acme", replies=ADDRESSES)(envelope_row())
    assert (envelope.reply_to, envelope.reply_to_name) == (ADDRESSES.address(12), "Sam Recruiter")
    body = build_request_body(envelope)
    assert body["reply_to"] == {"email": ADDRESSES.address(12), "name": "Sam Recruiter"}
    assert body["headers"]["Message-ID"] == ADDRESSES.message_id_header(12)
    mime = build_email_message(envelope)
    assert mime["Message-ID"] == ADDRESSES.message_id_header(12)
    assert mime["Reply-To"] == f"Sam Recruiter <{ADDRESSES.address(12)}>"
    # Without it, the recruiter's own address, as before.
    plain = EnvelopeBuilder("jobs@acme.example", "Acme")(envelope_row())
    assert (plain.reply_to, plain.message_id) == ("sam@acme.example", None)


def test_reply_addresses_need_a_secret_every_sender_shares(tmp_path):
    from followup.config import Settings
    from followup.sending.setup import SendingRefused, check_can_send

    settings = Settings(data_dir=tmp_path, database_url="postgresql://127.0.0.1/test", reply_domain=DOMAIN,
                        from_email="jobs@acme.example", transport="memory")  # fmt: skip
    with pytest.raises(SendingRefused, match="FOLLOWUP_REPLY_DOMAIN signs each reply address with FOLLOWUP_SECRET_KEY"):
        check_can_send(SendSetup.of(settings))


# --- the form ---


def multipart(fields: dict[str, str | bytes], files: int = 0) -> tuple[bytes, str]:
    boundary = "xYzZY" + uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        data = value if isinstance(value, bytes) else value.encode("utf-8")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + data + b"\r\n")
    for n in range(files):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="attachment{n + 1}"; '
                     f'filename="cv{n}.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n'.encode())  # fmt: skip
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def parse_fields(sender: str, to: str, text: str, subject: str = "Re: Your offer", *, message_id: str | None = None,
                 in_reply_to: str | None = None, date: datetime = SENT_AT.replace(hour=15), extra_headers: str = "",
                 charset: str = "UTF-8", html: str | None = None) -> dict[str, str | bytes]:  # fmt: skip
    """The fields of Inbound Parse's default mode, as SendGrid posts them."""
    headers = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Date: {format_datetime(date)}",
               f"Message-ID: {message_id or '<' + uuid.uuid4().hex + '@mail.example.org>'}"]  # fmt: skip
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    fields: dict[str, str | bytes] = {
        "headers": "\n".join(headers) + "\n" + extra_headers, "from": sender, "to": to, "cc": "",
        "subject": subject, "text": text.encode(charset),
        "envelope": json.dumps({"to": [to.split("<")[-1].rstrip(">")], "from": sender.split("<")[-1].rstrip(">")}),
        "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": charset}),
        "SPF": "pass", "spam_score": "0.1", "sender_ip": "192.0.2.7", "attachments": "0",
    }  # fmt: skip
    if html is not None:
        fields["html"] = html
    return fields


def test_the_form_is_read_in_the_character_set_it_names_and_attachments_are_counted():
    body, content_type = multipart(parse_fields("Zoë <zoe@example.org>", "x@example.com", "Très bien, merci !",
                                                charset="iso-8859-1"), files=2)  # fmt: skip
    reply = parse_form(body, content_type)
    assert reply.text == "Très bien, merci !" and reply.attachments == 2
    assert (reply.sender, reply.sender_name) == ("zoe@example.org", "Zoë")
    with pytest.raises(NotInbound):
        parse_form(b'{"not": "a form"}', "application/json")
    flood, flood_type = multipart({f"field{n}": "x" for n in range(201)})
    with pytest.raises(NotInbound, match="more than 200 fields"):
        parse_form(flood, flood_type)


def test_raw_mode_posts_the_whole_message_and_reads_the_same():
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"], message["To"], message["Subject"] = "Ana <ana@example.org>", ADDRESSES.address(3), "Re: Offer"
    message["Message-ID"], message["In-Reply-To"] = "<abc@example.org>", ADDRESSES.message_id_header(3)
    message.set_content("I accept the offer.")
    message.add_alternative("<p>I accept the offer.</p>", subtype="html")
    body, content_type = multipart({"email": message.as_bytes(), "to": ADDRESSES.address(3)})
    reply = parse_form(body, content_type)
    assert reply.text.strip() == "I accept the offer." and reply.html and "<p>" in reply.html
    assert ADDRESSES.find(reply.recipients) == 3 and ADDRESSES.find(reply.thread) == 3
    assert reply.message_id == "<abc@example.org>"


# --- the receiver, on a real socket ---


def seed(engine) -> dict[str, int]:
    """Two candidates with a sent offer each (the second without a recruiter address); message ids by key."""
    ids = {}
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        for n, recruiter in enumerate(("sam@acme.example", None)):
            candidate = f"c-{n}"
            conn.execute(sa.insert(Candidate).values(
                candidate_id=candidate, email=f"Person{n}@example.org", first_name="Ana", last_name="Lima",
                channel="email", first_batch_id="b1", last_batch_id="b1"))  # fmt: skip
            decision = conn.execute(sa.insert(Decision).values(
                candidate_id=candidate, batch_id="b1", source_line=n + 2, role="Engineer", decision="offer",
                recruiter_name="Sam" if recruiter else None, recruiter_email=recruiter,
            ).returning(Decision.id)).scalar_one()  # fmt: skip
            key = f"offer-{n}"
            ids[key] = conn.execute(sa.insert(Message).values(
                message_key=key, campaign="spring", candidate_id=candidate, decision_id=decision, kind="offer",
                step=0, channel="email", status="sent", scheduled_for=SENT_AT, sent_at=SENT_AT, subject="Your offer",
            ).returning(Message.id)).scalar_one()  # fmt: skip
    return ids


@pytest.fixture
def server(ledger_url):
    engine = open_ledger(ledger_url)
    ids = seed(engine)
    setup = InboundSetup(SecretStr(TOKEN), ADDRESSES, "jobs@acme.example")
    with serving(engine, SECRET, inbound_setup=setup) as url:
        yield url, engine, ids, ledger_url


def post(url: str, fields: dict | None = None, token: str = TOKEN, raw: tuple[bytes, str] | None = None):
    body, content_type = raw or multipart(fields or {})
    request = urllib.request.Request(f"{url}{PATH}/{token}", data=body, method="POST",
                                     headers={"Content-Type": content_type})  # fmt: skip
    try:
        with _OPENER.open(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as answer:
        with answer:
            return answer.code, answer.read().decode()


def rows(engine, table) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table.__table__).order_by(*table.__table__.primary_key))]


def test_each_route_alone_finds_the_message(server):
    url, engine, ids, _ = server
    offer0, offer1 = ids["offer-0"], ids["offer-1"]
    # 1. our address, written from an address we do not know
    assert post(url, parse_fields("Ana <ana.private@example.net>", ADDRESSES.address(offer0), "I accept!"))[0] == 200
    # 2. In-Reply-To our Message-ID, sent to some other address (the From, say)
    assert post(url, parse_fields("Ana <ana.other@example.net>", "jobs@acme.example", "Can we talk about the salary?",
                                  in_reply_to=ADDRESSES.message_id_header(offer1)))[0] == 200  # fmt: skip
    # 3. neither: the sender's address is the candidate's (any case)
    status, answer = post(url, parse_fields("person1@EXAMPLE.org", "jobs@acme.example", "Thanks, I will pass."))
    assert status == 200 and json.loads(answer) == {"stored": True, "outcome": "declined", "matched_by": "sender"}
    replies = rows(engine, Reply)
    assert [(r["matched_by"], r["message_key"], r["outcome"]) for r in replies] == [
        ("address", "offer-0", "accepted"), ("thread", "offer-1", "question"), ("sender", "offer-1", "declined")]
    responses = rows(engine, Response)
    assert [(r["candidate_id"], r["outcome"], r["channel"]) for r in responses] == [
        ("c-0", "accepted", "email"), ("c-1", "question", "email"), ("c-1", "declined", "email")]
    assert {r["source"] for r in responses} == {f"inbound:{r['id']}" for r in replies}


def test_a_forged_address_falls_back_to_the_other_routes_and_else_is_kept_unmatched(server):
    url, engine, ids, _ = server
    forged = ADDRESSES.address(ids["offer-0"])[:-len(DOMAIN) - 2] + "x@" + DOMAIN
    status, answer = post(url, parse_fields("Stranger <someone@example.net>", forged, "Hello? Who is this?"))
    assert status == 200 and json.loads(answer)["matched_by"] is None
    [reply] = rows(engine, Reply)
    assert reply["candidate_id"] is None and reply["text_body"] == "Hello? Who is this?"
    assert reply["forward_to"] == "jobs@acme.example" and reply["forward_status"] == "pending"
    assert rows(engine, Response) == []  # no candidate: no response, but nothing dropped


def test_the_token_is_checked_before_the_body_is_read(server):
    url, engine, ids, _ = server
    garbage = (b"\x00" * 100, "multipart/form-data; boundary=nothing")
    assert post(url, token="wrong-token-0123456789abcdefgh", raw=garbage)[0] == 404
    assert post(url, token="", raw=garbage)[0] == 404  # /webhooks/sendgrid/inbound/ is no route
    assert post(url, raw=(b'{"a": 1}', "application/json"))[0] == 400  # the right token, not a form
    assert rows(engine, Reply) == []


def test_a_post_that_is_no_inbound_form_is_refused_and_kept_whole_for_a_person(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    seed(engine)
    kept_in = tmp_path / "quarantine" / "inbound"
    body = b"From: Ana <person0@example.org>\r\nSubject: Re: Your offer\r\n\r\nI accept!\r\n"
    with serving(engine, SECRET, inbound_setup=InboundSetup(SecretStr(TOKEN), ADDRESSES, None, kept_in)) as url:
        status, answer = post(url, raw=(body, "message/rfc822"))
    assert status == 400 and "multipart/form-data" in answer
    assert rows(engine, Reply) == []  # nothing matched or stored from it
    [kept] = kept_in.iterdir()
    message = email.message_from_bytes(kept.read_bytes())
    assert message.get_content_type() == "message/rfc822" and "multipart/form-data" in message["X-Followup-Refused"]
    assert kept.read_bytes().endswith(body)  # as it came: the candidate's answer is all there


def test_without_a_token_set_every_post_is_refused(ledger_url):
    engine = open_ledger(ledger_url)
    with serving(engine, SECRET, inbound_setup=InboundSetup(None, ADDRESSES, None)) as url:
        assert post(url, parse_fields("a@example.org", "b@example.org", "hi"))[0] == 403


def test_a_reply_posted_again_is_stored_once(server):
    url, engine, ids, _ = server
    fields = parse_fields("person0@example.org", ADDRESSES.address(ids["offer-0"]), "Yes, I accept.",
                          message_id="<once@example.org>")  # fmt: skip
    first, again = post(url, fields), post(url, fields)
    assert first[0] == again[0] == 200
    assert json.loads(first[1])["stored"] is True and json.loads(again[1])["stored"] is False
    assert len(rows(engine, Reply)) == 1 and len(rows(engine, Response)) == 1


def test_an_opt_out_suppresses_the_address_we_mail_and_the_one_that_wrote(server):
    url, engine, ids, _ = server
    post(url, parse_fields("Ana <ana.private@example.net>", ADDRESSES.address(ids["offer-0"]),
                           "Please stop emailing me."))  # fmt: skip
    assert {(s["email"], s["reason"]) for s in rows(engine, Suppression)} == {
        ("ana.private@example.net", "opt_out"), ("Person0@example.org", "opt_out")}


def test_an_out_of_office_reply_keeps_its_return_date_for_the_planner(server):
    url, engine, ids, _ = server
    post(url, parse_fields("person0@example.org", ADDRESSES.address(ids["offer-0"]),
                           "I am out of the office until 16 March 2026 with limited access to email.",
                           subject="Automatic reply: Your offer",
                           extra_headers="Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n"))  # fmt: skip
    [response] = rows(engine, Response)
    assert response["outcome"] == "out_of_office"
    assert _ISO_DAY.search(response["note"]).group(1) == "2026-03-16"


def test_a_reply_dated_before_its_message_counts_from_the_send(server):
    """A candidate's clock that is wrong must not hide their answer from the stop rules."""
    url, engine, ids, _ = server
    post(url, parse_fields("person0@example.org", ADDRESSES.address(ids["offer-0"]), "I accept.",
                           date=datetime(2020, 1, 1, tzinfo=timezone.utc)))  # fmt: skip
    [response] = rows(engine, Response)
    assert response["received_at"].replace(tzinfo=timezone.utc) == SENT_AT


# --- forwarding ---


def send_setup(ledger_url, tmp_path) -> SendSetup:
    return SendSetup(ledger_url=ledger_url, email=EmailSetup(outbox_dir=tmp_path), call_sheet_dir=tmp_path,
                     from_email="jobs@acme.example", from_name="Acme Recruiting")  # fmt: skip


def test_each_reply_reaches_the_recruiter_once_answerable_to_the_candidate(server, tmp_path):
    url, engine, ids, ledger_url = server
    post(url, parse_fields("Ana Lima <person0@example.org>", ADDRESSES.address(ids["offer-0"]),
                           "I accept! When do I start?"), )  # fmt: skip
    post(url, parse_fields("Bo <person1@example.org>", ADDRESSES.address(ids["offer-1"]), "No thanks, I'll pass."))
    outbox = MemoryTransport()
    setup = send_setup(ledger_url, tmp_path)
    assert forward_replies(setup, outbox) == {"forwarded": 2, "retry_wait": 0, "failed": 0, "unknown": 0}
    assert forward_replies(setup, outbox)["forwarded"] == 0  # a second sweep sends nothing again
    first, second = outbox.outbox
    assert first.to_email == "sam@acme.example"  # the recruiter of the first decision
    assert second.to_email == "jobs@acme.example"  # no recruiter address: the inbox replies reached before
    assert (first.reply_to, first.reply_to_name) == ("person0@example.org", "Ana Lima")
    assert "I accept! When do I start?" in first.text and "Read as: question" in first.text
    assert first.from_email == "jobs@acme.example" and first.from_name == "Ana Lima via Acme Recruiting"
    assert not first.track_engagement
    assert {r["forward_status"] for r in rows(engine, Reply)} == {"sent"}


class _Flaky(MemoryTransport):
    def __init__(self, outcomes: list[SendOutcome]) -> None:
        super().__init__()
        self.outcomes = outcomes

    def send(self, envelope):
        return self.outcomes.pop(0) if self.outcomes else super().send(envelope)


def test_a_forward_the_provider_did_not_take_waits_and_one_of_unknown_fate_is_not_resent(server, tmp_path):
    url, engine, ids, ledger_url = server
    post(url, parse_fields("person0@example.org", ADDRESSES.address(ids["offer-0"]), "I accept."))
    post(url, parse_fields("person1@example.org", ADDRESSES.address(ids["offer-1"]), "I decline."))
    flaky = _Flaky([SendOutcome.retry("429 too many requests"), SendOutcome.unknown("read timeout")])
    counts = forward_replies(send_setup(ledger_url, tmp_path), flaky)
    assert counts == {"forwarded": 0, "retry_wait": 1, "failed": 0, "unknown": 1}
    assert flaky.outbox == []
    # The wait is on the real clock: nothing is due again yet, and the unknown one is never claimed.
    assert claim_forwards(engine, Owner.current()) == []
    with engine.begin() as conn:
        conn.execute(sa.update(Reply).where(Reply.forward_status == "retry_wait").values(forward_next_at=None))
    assert forward_replies(send_setup(ledger_url, tmp_path), flaky)["forwarded"] == 1
    assert [e.text.count("I accept.") for e in flaky.outbox] == [1]


def test_a_forward_left_in_flight_by_a_dead_sweep_becomes_unknown(server, tmp_path):
    url, engine, ids, ledger_url = server
    post(url, parse_fields("person0@example.org", ADDRESSES.address(ids["offer-0"]), "I accept."))
    dead = Owner("this-host-is-gone", 1, 0.0)
    assert len(claim_forwards(engine, dead)) == 1
    with engine.begin() as conn:  # claimed long ago, by an owner no one can ask
        conn.execute(sa.update(Reply).values(forward_claimed_at=datetime(2020, 1, 1, tzinfo=timezone.utc)))
    outbox = MemoryTransport()
    assert forward_replies(send_setup(ledger_url, tmp_path), outbox)["unknown"] == 1
    assert outbox.outbox == [] and rows(engine, Reply)[0]["forward_status"] == "unknown"


def test_a_sweep_that_cannot_send_leaves_the_forwards_waiting(server, tmp_path):
    from followup.sending.setup import SendingRefused

    url, engine, ids, ledger_url = server
    post(url, parse_fields("person0@example.org", ADDRESSES.address(ids["offer-0"]), "I accept."))
    no_sender = SendSetup(ledger_url=ledger_url, email=EmailSetup(outbox_dir=tmp_path), call_sheet_dir=tmp_path)
    with pytest.raises(SendingRefused):
        forward_replies(no_sender, MemoryTransport())
    assert rows(engine, Reply)[0]["forward_status"] == "pending"  # not claimed, so not lost to `unknown`
