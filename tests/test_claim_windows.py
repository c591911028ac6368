"""The claim's send windows and the offer deadline: a message goes out inside its window or not at
all; one picked up late moves to its next window; nothing goes after the offer deadline. On
SQLite and PostgreSQL, through the send stage and the memory transport.

The calendar: New York keeps 09:00-17:00 EST (14:00-22:00 UTC); Wednesday 2026-11-25 is a
working day, Thursday 2026-11-26 is Thanksgiving, Friday 2026-11-27 works again.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from followup.models import Batch, Candidate, Decision, Message
from followup.sending import SendPolicy
from followup.sending.setup import EmailSetup, SendSetup
from followup.stages.sending import send_stage
from followup.store import open_ledger, sending
from followup.store.owners import Owner
from followup.transports.memory import MemoryTransport

NY = "America/New_York"
WED_OPENS = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.utc)
WED_CLOSES = datetime(2026, 11, 25, 22, 0, tzinfo=timezone.utc)
FRI_OPENS = datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)
FRI_CLOSES = datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc)
MON_OPENS = datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc)
UTC = timezone.utc


def setup_for(ledger_url: str, tmp_path, *, daily_cap: int | None = None) -> SendSetup:
    return SendSetup(
        ledger_url=ledger_url,
        email=EmailSetup(outbox_dir=tmp_path / "outbox"),
        call_sheet_dir=tmp_path / "call_sheets",
        from_email="jobs@acme.example",
        policy=SendPolicy(concurrency=4),
        daily_cap=daily_cap,
        company_timezone="Europe/London",
        company_country="GB",
    )


def add(engine, cid: str, *, opens=WED_OPENS, closes=WED_CLOSES, channel="email", zone=NY, country=None,
        deadline=None, experiment_hour=None, recruiter_zone=None) -> str:  # fmt: skip
    """One candidate with an offer and its rendered step-0 message on `channel`, in the window
    [opens, closes); returns the message key."""
    key = f"nov:{cid}:offer:0:{channel}"
    with engine.begin() as conn:
        if conn.execute(sa.select(Batch.id)).first() is None:
            conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64,
                                                 status="imported"))  # fmt: skip
        if conn.execute(sa.select(Candidate.candidate_id).where(Candidate.candidate_id == cid)).first() is None:
            conn.execute(sa.insert(Candidate).values(
                candidate_id=cid, email=f"{cid}@example.com", first_name="Ana", last_name="Silva", phone="+12125550100",
                timezone=zone, country=country, channel=channel, first_batch_id="b1", last_batch_id="b1"))  # fmt: skip
        decision_id = conn.execute(sa.insert(Decision).values(
            candidate_id=cid, batch_id="b1", source_line=2, role=f"Engineer {channel}", decision="offer",
            offer_deadline=deadline, recruiter_timezone=recruiter_zone, recruiter_email="maya@acme.example",
        ).returning(Decision.id)).scalar_one()  # fmt: skip
        sheet = {"local_time_to_call": "2026-11-25 10:00 EST", "name": "Ana Silva", "phone": "+12125550100",
                 "script": "Hi Ana, it is Maya from Acme."} if channel == "voicemail" else None  # fmt: skip
        conn.execute(sa.insert(Message).values(
            message_key=key, campaign="nov", candidate_id=cid, decision_id=decision_id, cadence=f"offer:{channel}",
            kind="offer", step=0, channel=channel, status="rendered", subject="Your offer", text_body="Dear Ana,",
            call_sheet=sheet, scheduled_for=opens, window_closes=closes, experiment_hour=experiment_hour))  # fmt: skip
    return key


def ledger(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.message_key: dict(r._mapping) for r in conn.execute(sa.select(Message.__table__))}


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC))


def on_call_sheets(tmp_path) -> list[str]:
    keys = []
    for sheet in sorted((tmp_path / "call_sheets").glob("*.csv")):
        with sheet.open(encoding="utf-8", newline="") as rows:
            keys += [row["message_key"] for row in csv.DictReader(rows)]
    return keys


def assert_sent_inside_their_windows(engine) -> None:
    for row in ledger(engine).values():
        if row["status"] == "sent":
            assert utc(row["scheduled_for"]) <= utc(row["sent_at"]) < utc(row["window_closes"]), row["message_key"]


def test_a_message_whose_window_closed_is_never_claimed_and_moves_to_its_next_window(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    late = add(engine, "c1")
    open_key = add(engine, "c2", closes=WED_CLOSES + timedelta(hours=1))
    never = add(engine, "c3", closes=None)  # planned before windows existed: no close
    real_now = datetime.now(UTC)

    # At the close itself the window is over: closes is the first moment it may not go out.
    due = sending.due_ids(engine, 100, business_now=WED_CLOSES, real_now=real_now)
    assert sorted(due) == sorted(ledger(engine)[k]["id"] for k in (open_key, never))
    claimed = sending.claim(engine, Owner.current(), 100, business_now=WED_CLOSES, real_now=real_now)
    assert sorted(row["message_key"] for row in claimed) == sorted([open_key, never])
    sending.release(engine, Owner.current(), [row["id"] for row in claimed])

    transport = MemoryTransport()
    report = send_stage(setup_for(ledger_url, tmp_path), business_now=WED_CLOSES, email=transport)
    assert sorted(e.message_key for e in transport.outbox) == sorted([open_key, never])
    assert (report.sent, report.moved) == (2, 1)
    moved = ledger(engine)[late]
    assert moved["status"] == "rendered" and moved["attempts"] == 0
    assert (utc(moved["scheduled_for"]), utc(moved["window_closes"])) == (FRI_OPENS, FRI_CLOSES)  # not Thanksgiving
    assert moved["plan_note"] == "window closed 2026-11-25 17:00 America/New_York; moved to the next window"


def test_a_late_sweep_sends_nothing_that_day_and_the_rows_go_in_their_next_windows(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    email = add(engine, "c1")
    # A Sydney candidate called by a London recruiter: the call goes into the candidate's hours,
    # where they meet the recruiter's day where they can.
    call = add(engine, "c2", channel="voicemail", zone="Australia/Sydney", recruiter_zone="Europe/London",
               opens=datetime(2026, 11, 24, 22, 0, tzinfo=UTC), closes=datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    timed = add(engine, "c3", experiment_hour=11, opens=datetime(2026, 11, 25, 16, 0, tzinfo=UTC),
                closes=datetime(2026, 11, 25, 17, 0, tzinfo=UTC))  # the timing experiment's 11:00 EST
    setup = setup_for(ledger_url, tmp_path)
    evening = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 18:30 in New York, 10:30 Thursday in Sydney

    transport = MemoryTransport()
    late = send_stage(setup, business_now=evening, email=transport)
    rows = ledger(engine)
    # Sydney's Thursday window is open at 10:30: the call goes at once, into the rest of it.
    assert on_call_sheets(tmp_path) == [call] and transport.outbox == [] and (late.sent, late.moved) == (1, 3)
    assert utc(rows[call]["scheduled_for"]) == evening
    assert utc(rows[call]["window_closes"]) == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 17:00 in Sydney
    assert (utc(rows[email]["scheduled_for"]), utc(rows[email]["window_closes"])) == (FRI_OPENS, FRI_CLOSES)
    assert utc(rows[timed]["scheduled_for"]) == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # its own hour, Friday
    assert utc(rows[timed]["window_closes"]) == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)

    thanksgiving = send_stage(setup, business_now=datetime(2026, 11, 26, 16, 0, tzinfo=UTC), email=transport)
    assert (thanksgiving.sent, thanksgiving.moved) == (0, 0)
    friday = send_stage(setup, business_now=datetime(2026, 11, 27, 16, 30, tzinfo=UTC), email=transport)
    assert friday.sent == 2 and sorted(e.message_key for e in transport.outbox) == sorted([email, timed])
    assert_sent_inside_their_windows(engine)


def test_the_daily_cap_spills_to_the_next_window_and_goes_then(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    keys = [add(engine, f"c{n:02d}") for n in range(10)]
    setup = setup_for(ledger_url, tmp_path, daily_cap=5)
    transport = MemoryTransport()

    assert send_stage(setup, business_now=WED_OPENS + timedelta(hours=1), email=transport).sent == 5
    after_close = send_stage(setup, business_now=WED_CLOSES + timedelta(minutes=30), email=transport)
    assert (after_close.sent, after_close.moved) == (0, 5)
    rows = ledger(engine)
    spilled = [k for k in keys if rows[k]["status"] == "rendered"]
    assert len(spilled) == 5
    assert {(utc(rows[k]["scheduled_for"]), utc(rows[k]["window_closes"])) for k in spilled} == {(FRI_OPENS, FRI_CLOSES)}

    friday = send_stage(setup, business_now=FRI_OPENS + timedelta(minutes=5), email=transport)
    assert friday.sent == 5 and sorted(e.message_key for e in transport.outbox[5:]) == sorted(spilled)
    assert Counter(r["status"] for r in ledger(engine).values()) == Counter({"sent": 10})
    assert_sent_inside_their_windows(engine)


def test_nothing_is_sent_after_the_offer_deadline(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    setup = setup_for(ledger_url, tmp_path)
    transport = MemoryTransport()
    # A moment: 14:00 in New York on Friday, where the planner ended the window. At that moment
    # the window has closed, and the next one would open after the deadline.
    at_two = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
    by_moment = add(engine, "c1", opens=FRI_OPENS, closes=at_two, deadline=at_two)
    report = send_stage(setup, business_now=at_two, email=transport)
    assert (report.sent, report.cancelled, report.moved) == (0, 1, 0)
    assert (ledger(engine)[by_moment]["status"], ledger(engine)[by_moment]["last_error"]) == (
        "cancelled", "offer deadline 2026-11-27 14:00 America/New_York passed")

    # A date: the end of Friday 27 November in New York; after Friday's window comes Monday's.
    by_date = add(engine, "c2", opens=FRI_OPENS, closes=FRI_CLOSES, deadline=datetime(2026, 11, 27, tzinfo=UTC))
    # A deadline on Monday at noon: the row moves to Monday, its window ending at the deadline.
    monday_noon = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    cut_short = add(engine, "c3", deadline=monday_noon)
    late = send_stage(setup, business_now=FRI_CLOSES + timedelta(hours=1), email=transport)
    rows = ledger(engine)
    assert (late.sent, late.cancelled, late.moved) == (0, 1, 1)
    assert (rows[by_date]["status"], rows[by_date]["last_error"]) == ("cancelled", "offer deadline 2026-11-27 passed")
    assert (utc(rows[cut_short]["scheduled_for"]), utc(rows[cut_short]["window_closes"])) == (MON_OPENS, monday_noon)

    monday = send_stage(setup, business_now=monday_noon, email=transport)  # the deadline itself: too late
    assert (monday.sent, monday.cancelled) == (0, 1) and transport.outbox == []
    assert (ledger(engine)[cut_short]["status"], ledger(engine)[cut_short]["last_error"]) == (
        "cancelled", "offer deadline 2026-11-30 12:00 America/New_York passed")
