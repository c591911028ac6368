"""Stop rules in the claim: an answer recorded between planning and sending still stops the
message, a bounce stops email only, a wrong number stops the phone only. On SQLite and
PostgreSQL, through the claim, the send stage and the memory transport."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from followup.models import Batch, Candidate, Message, Suppression
from followup.sending import SendPolicy
from followup.sending.setup import EmailSetup, SendSetup
from followup.stages.sending import send_stage
from followup.store import open_ledger, sending
from followup.store.owners import Owner
from followup.store.responses import NewResponse, insert_responses
from followup.transports.memory import MemoryTransport

UTC = timezone.utc
STARTED = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # when each cadence's first message went out
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday afternoon in London, inside the window
CHANNELS = ("email", "voicemail", "in_person")


def setup_for(ledger_url: str, tmp_path) -> SendSetup:
    return SendSetup(ledger_url=ledger_url, email=EmailSetup(outbox_dir=tmp_path / "outbox"),
                     call_sheet_dir=tmp_path / "call_sheets", from_email="jobs@acme.example",
                     policy=SendPolicy(concurrency=4), company_timezone="Europe/London", company_country="GB")  # fmt: skip


def add(engine, cid: str, *, step: int = 1, channels=CHANNELS, started=STARTED) -> dict[str, str]:
    """A London candidate with one rendered message per channel of `channels`, as the planner
    leaves a step (`started`: when the cadence's first message went out; None on step 0), in
    today's window; returns channel -> message key."""
    keys = {channel: f"nov:{cid}:offer_nudge:{step}:{channel}" for channel in channels}
    with engine.begin() as conn:
        if conn.execute(sa.select(Batch.id)).first() is None:
            conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64,
                                                 status="imported"))  # fmt: skip
        conn.execute(sa.insert(Candidate).values(
            candidate_id=cid, email=f"{cid}@example.com", first_name="Ana", last_name="Silva", phone="+442071234567",
            timezone="Europe/London", channel="email", first_batch_id="b1", last_batch_id="b1"))  # fmt: skip
        sheet = {"local_time_to_call": "2026-11-20 15:00 GMT", "name": "Ana Silva", "phone": "+442071234567",
                 "script": "Hi Ana, it is Maya from Acme."}  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": key, "campaign": "nov", "candidate_id": cid, "cadence": "offer:email",
             "kind": "offer_nudge", "step": step, "channel": channel, "status": "rendered", "subject": "Any questions?",
             "text_body": "Dear Ana,", "call_sheet": sheet if channel == "voicemail" else None,
             "scheduled_for": NOW - timedelta(hours=1), "window_closes": NOW + timedelta(hours=2),
             "cadence_started_at": started}
            for channel, key in keys.items()
        ])  # fmt: skip
    return keys


def answer(engine, cid: str, outcome: str, at: datetime, channel: str = "email") -> None:
    insert_responses(engine, [NewResponse(f"{cid}-{outcome}-{at.timestamp():.0f}", cid, None, channel, outcome, None, at,
                                          "outcomes:calls.csv")])  # fmt: skip


def ledger(engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Message.message_key, Message.status, Message.last_error))
        return {key: (status, error) for key, status, error in rows}


def claimable(engine) -> set[str]:
    """The keys a sender would claim now; released again, so the send stage sees them as they were."""
    owner, real_now = Owner.current(), datetime.now(UTC)
    due = sending.due_ids(engine, 1000, business_now=NOW, real_now=real_now)
    claimed = sending.claim(engine, owner, 1000, business_now=NOW, real_now=real_now)
    sending.release(engine, owner, [row["id"] for row in claimed])
    assert sorted(due) == sorted(row["id"] for row in claimed)  # the look-ahead and the claim agree
    return {row["message_key"] for row in claimed}


def sent(transport: MemoryTransport, tmp_path) -> set[str]:
    """What reached the candidate: emails in the outbox, voicemails on the recruiter's call sheets."""
    on_sheets = set()
    for sheet in (tmp_path / "call_sheets").glob("*.csv"):
        with sheet.open(encoding="utf-8", newline="") as rows:
            on_sheets |= {row["message_key"] for row in csv.DictReader(rows)}
    return {envelope.message_key for envelope in transport.outbox} | on_sheets


def test_a_response_recorded_between_planning_and_the_claim_stops_every_channel(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    replied, called_back, fine = add(engine, "c1"), add(engine, "c2"), add(engine, "c3")
    answer(engine, "c1", "replied", datetime(2026, 11, 18, 14, 2, 30, tzinfo=UTC))
    answer(engine, "c1", "accepted", datetime(2026, 11, 19, 9, 0, tzinfo=UTC))
    answer(engine, "c2", "called_back", STARTED, channel="voicemail")  # at the very moment: it counts
    answer(engine, "c3", "no_answer", NOW - timedelta(hours=3), channel="voicemail")  # no answer is no response
    answer(engine, "c3", "auto_reply", NOW - timedelta(hours=2))
    # Its window closed too: what the answer stopped is cancelled, not moved to another window.
    closed = add(engine, "c4", channels=("email",))["email"]
    answer(engine, "c4", "question", NOW - timedelta(days=1))
    with engine.begin() as conn:
        conn.execute(sa.update(Message).where(Message.message_key == closed).values(window_closes=NOW))

    assert claimable(engine) == set(fine.values())
    transport = MemoryTransport()
    report = send_stage(setup_for(ledger_url, tmp_path), business_now=NOW, email=transport)
    assert sent(transport, tmp_path) == set(fine.values())
    assert (report.sent, report.cancelled, report.moved) == (3, 7, 0)
    assert ledger(engine)[closed] == ("cancelled", "stopped: question 2026-11-19 15:00 by email")
    rows = ledger(engine)
    assert {rows[key] for key in replied.values()} == {("cancelled", "stopped: replied 2026-11-18 14:02 by email")}
    assert {rows[key] for key in called_back.values()} == {
        ("cancelled", "stopped: called_back 2026-11-16 15:00 by voicemail")}


def test_an_answer_from_before_the_cadence_began_stops_nothing_and_a_first_message_is_never_stopped_by_one(
    ledger_url, tmp_path
):
    engine = open_ledger(ledger_url)
    old = add(engine, "c1")
    first = add(engine, "c2", step=0, started=None)
    answer(engine, "c1", "declined", STARTED - timedelta(days=300))  # last year's rejection, answered
    answer(engine, "c2", "replied", NOW - timedelta(days=1))
    # An opt_out stops all contact, whenever it was said: as an unsubscribe does.
    opted_out = add(engine, "c3", step=0, started=None)
    answer(engine, "c3", "opt_out", STARTED - timedelta(days=300))

    assert claimable(engine) == set(old.values()) | set(first.values())
    transport = MemoryTransport()
    send_stage(setup_for(ledger_url, tmp_path), business_now=NOW, email=transport)
    assert sent(transport, tmp_path) == set(old.values()) | set(first.values())
    assert {ledger(engine)[key][0] for key in opted_out.values()} == {"cancelled"}


def test_a_bounce_stops_email_only_and_an_unsubscribe_stops_every_channel(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    bounced, unsubscribed = add(engine, "Bounced"), add(engine, "c2")
    with engine.begin() as conn:
        conn.execute(sa.insert(Suppression), [
            {"email": "bounced@example.com", "reason": "bounce"},  # lower-cased, as SendGrid reports it
            {"email": "c2@example.com", "reason": "unsubscribe"},
        ])  # fmt: skip

    assert claimable(engine) == {bounced["voicemail"]}
    transport = MemoryTransport()
    report = send_stage(setup_for(ledger_url, tmp_path), business_now=NOW, email=transport)
    assert sent(transport, tmp_path) == {bounced["voicemail"]} and (report.sent, report.suppressed) == (1, 5)
    rows = ledger(engine)
    assert [rows[bounced[c]] for c in ("email", "in_person")] == [("suppressed", "suppressed: bounce")] * 2
    assert {rows[key] for key in unsubscribed.values()} == {("suppressed", "suppressed: unsubscribe")}


def test_a_wrong_number_stops_the_phone_steps_only(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    wrong, before = add(engine, "c1"), add(engine, "c2")
    answer(engine, "c1", "wrong_number", datetime(2026, 11, 17, 10, 30, tzinfo=UTC), channel="voicemail")
    answer(engine, "c2", "wrong_number", STARTED - timedelta(days=30), channel="voicemail")  # since corrected

    expected = {wrong["email"], wrong["in_person"], *before.values()}
    assert claimable(engine) == expected
    transport = MemoryTransport()
    report = send_stage(setup_for(ledger_url, tmp_path), business_now=NOW, email=transport)
    assert sent(transport, tmp_path) == expected and (report.sent, report.cancelled) == (5, 1)
    assert ledger(engine)[wrong["voicemail"]] == ("cancelled", "stopped: wrong number 2026-11-17 10:30")
