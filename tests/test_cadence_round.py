"""A simulated round on the business clock, sweep by sweep with `--now` steps: three hiring rounds
(October across the end of summer time, Thanksgiving week, Christmas week) to candidates in eight
time zones, on SQLite and PostgreSQL. The campaign runs as the flow; the sweeps run as their
stage functions (plan the next steps, render, send), four a day at the hours that open windows
from Tokyo to Los Angeles.

What it holds to: nothing goes out outside the candidate's window (business hours on a business
day where they live), holidays are skipped, nudges follow the cadence until an answer stops them,
and every stop rule does what the recruiter expects.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from flows.campaign import run_campaign
from followup.cadence.calendar import holiday_country, is_business_day
from followup.config import Settings
from followup.models import Message, Suppression
from followup.sending.setup import SendSetup
from followup.stages import rendering, sending
from followup.stages.outcomes import OutcomeSetup, import_outcomes
from followup.stages.planning import PlanSetup, plan_next
from followup.store import open_ledger
from followup.transports.memory import MemoryTransport

pytestmark = pytest.mark.usefixtures("prefect_harness")
UTC = timezone.utc
# Four sweeps a day, at hours that fall in someone's window: 09:30 in Tokyo, in western Europe, in
# New York, and midday in Los Angeles.
SWEEP_HOURS = (time(0, 30), time(9, 30), time(14, 30), time(20, 30))
COLUMNS = ("candidate_id", "email", "first_name", "last_name", "role", "decision", "phone", "timezone", "country",
           "channel", "decided_at", "offer_deadline", "recruiter_phone")  # fmt: skip


def person(cid, zone, country="", decision="offer", phone="", deadline="", decided="") -> dict:
    return dict(candidate_id=cid, email=f"{cid}@candidates.example.org", first_name=cid.title(), last_name="Test",
                role="Data Engineer", decision=decision, phone=phone, timezone=zone, country=country, channel="email",
                decided_at=decided, offer_deadline=deadline, recruiter_phone="+44 20 7946 0321")  # fmt: skip


def write(path, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def at(day: str, clock: str = "09:30") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00+00:00")


class Round:
    def __init__(self, tmp_path, ledger_url):
        self.tmp = tmp_path
        self.url = ledger_url
        self.settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                                 send_concurrency=4, senders=1)  # fmt: skip
        self.plan = PlanSetup.of(self.settings)
        self.render = rendering.RenderSetup.of(self.settings)
        self.send = SendSetup.of(self.settings)
        self.transport = MemoryTransport()
        self.files = 0

    def run(self, rows, now, campaign=None):
        self.files += 1
        path = write(self.tmp / f"round-{self.files}.csv", rows)
        return run_campaign(path, campaign, None, self.settings, now, email=self.transport)

    def sweep(self, now, between=None) -> None:
        plan_next(self.plan, now)
        if between is not None:
            between()  # what happens after planning, before the claim
        for chunk in rendering.chunks(rendering.planned(self.url)):
            rendering.render_and_store(self.url, chunk, self.render, now)
        sending.send_stage(self.send, business_now=now, email=self.transport)

    def sweeps(self, first: date, last: date, skip=(), hooks=None) -> None:
        day = first
        while day <= last:
            for hour in SWEEP_HOURS:
                now = datetime.combine(day, hour, tzinfo=UTC)
                if now not in skip:
                    self.sweep(now, (hooks or {}).get(now))
            day += timedelta(days=1)

    def record(self, now, *outcomes) -> None:
        self.files += 1
        path = self.tmp / f"outcomes-{self.files}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["candidate_id", "outcome", "at", "note", "channel"])
            writer.writerows(outcomes)
        summary = import_outcomes(path, now, OutcomeSetup.of(self.settings))
        assert summary.recorded == len(outcomes), summary

    def messages(self, cid) -> list[dict]:
        with open_ledger(self.url).connect() as conn:
            rows = conn.execute(sa.select(Message.__table__).where(Message.candidate_id == cid).order_by(Message.step))
            return [{**r._mapping} for r in rows]

    def all_sent(self) -> list[dict]:
        with open_ledger(self.url).connect() as conn:
            query = sa.text("SELECT m.candidate_id, m.channel, m.step, m.sent_at, c.timezone, c.country FROM messages m"
                            " JOIN candidates c ON c.candidate_id = m.candidate_id WHERE m.status = 'sent'")  # fmt: skip
            return [dict(r._mapping) for r in conn.execute(query)]


def utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def steps(messages) -> list[tuple]:
    return [(m["step"], m["kind"], m["channel"], m["status"]) for m in messages]


def test_a_round_goes_out_in_each_candidates_windows_and_follows_up_until_they_answer(ledger_url, tmp_path):
    r = Round(tmp_path, ledger_url)
    # --- October: across the end of summer time (Europe 25 Oct, the US 1 Nov) ---
    october = [
        person("lon-dst", "Europe/London", "GB", decided="2026-10-21T12:00:00Z"),
        person("tokyo", "Asia/Tokyo", "JP", decided="2026-10-21T12:00:00Z"),
        person(
            "la",
            "America/Los_Angeles",
            "US",
            phone="+1 415 555 0101",
            decided="2026-10-21T12:00:00Z",
        ),
    ]
    r.run(october, at("2026-10-22"))
    r.sweeps(date(2026, 10, 22), date(2026, 11, 6))
    london = r.messages("lon-dst")
    # No phone, and no place to meet (no meeting_location, no FOLLOWUP_OFFICE): the last nudge is an email.
    assert steps(london) == [(0, "offer", "email", "sent"), (1, "offer_nudge", "email", "sent"),
                             (2, "offer_nudge", "email", "sent"), (3, "offer_nudge", "email", "sent")]  # fmt: skip
    # Step 0 in summer time (09:00-17:00 BST is 08:00-16:00 UTC), step 1 two business days later
    # in winter time: the window stays 09:00-17:00 on the wall.
    assert utc(london[0]["window_closes"]) == at("2026-10-22", "16:00")
    assert (utc(london[1]["scheduled_for"]), utc(london[1]["window_closes"])) == (at("2026-10-26", "09:00"),
                                                                                   at("2026-10-26", "17:00"))  # fmt: skip
    tokyo = r.messages("tokyo")
    # 09:30 UTC on 22 Oct is 18:30 in Tokyo: the offer waits for Friday 09:00 JST (00:00 UTC).
    assert utc(tokyo[0]["scheduled_for"]) == at("2026-10-23", "00:00") and tokyo[0]["status"] == "sent"
    la = r.messages("la")
    assert [m["channel"] for m in la] == ["email", "email", "email", "voicemail"]
    # Step 3 is due Monday 2 Nov, after the US change: 09:00 PST is 17:00 UTC (16:00 the week before).
    assert utc(la[1]["scheduled_for"]) == at("2026-10-26", "16:00")
    assert utc(la[3]["scheduled_for"]) >= at("2026-11-02", "17:00")

    # --- Thanksgiving week ---
    thanksgiving = at("2026-11-26")
    decided = "2026-11-25T12:00:00Z"
    november = [
        person("ny", "America/New_York", decided=decided),  # no country: the zone says US
        person("lon-reply", "Europe/London", "GB", decided=decided),
        person(
            "berlin-bounce",
            "Europe/Berlin",
            "DE",
            phone="+49 30 91234567",
            decided=decided,
        ),
        person("paris-away", "Europe/Paris", "FR", decided=decided),
        person(
            "madrid-deadline",
            "Europe/Madrid",
            "ES",
            deadline="2026-12-01",
            decided=decided,
        ),
        person("sydney-no", "Australia/Sydney", "AU", decision="reject", decided=decided),
        person("dublin-race", "Europe/Dublin", "IE", decided=decided),
    ]
    summary = r.run(november, thanksgiving)
    assert summary.counts["sent"] == 5  # the Europeans; New York keeps Thanksgiving, Sydney waits a day

    def bounce():
        with open_ledger(ledger_url).begin() as conn:
            conn.execute(sa.insert(Suppression), [{"email": "berlin-bounce@candidates.example.org", "reason": "bounce",
                                                   "source": "event", "created_at": thanksgiving}])  # fmt: skip

    bounce()
    r.record(at("2026-11-26", "13:00"), ("paris-away", "out_of_office", "2026-11-26T13:00:00Z",
                                          "Back on 2026-12-07, no access to mail", "email"))  # fmt: skip
    friday = date(2026, 11, 27)
    late = {
        datetime.combine(friday, time(14, 30), tzinfo=UTC),
        datetime.combine(friday, time(20, 30), tzinfo=UTC),
    }

    def a_question_after_planning():
        r.record(
            at("2026-11-30", "09:31"),
            (
                "dublin-race",
                "question",
                "2026-11-30T09:31:00Z",
                "Is it remote?",
                "email",
            ),
        )

    r.sweeps(
        date(2026, 11, 26),
        date(2026, 11, 29),
        skip=late | {at("2026-11-26", "00:30"), thanksgiving},
    )
    r.record(
        at("2026-11-30", "08:00"),
        ("lon-reply", "replied", "2026-11-30T08:00:00Z", "Thinking it over", "email"),
    )
    r.sweeps(
        date(2026, 11, 30),
        date(2026, 12, 9),
        hooks={at("2026-11-30"): a_question_after_planning},
    )

    ny = r.messages("ny")
    # Not on Thanksgiving; Friday's window passed with no sweep (a late sweep): it went Monday.
    assert utc(ny[0]["sent_at"]).date() == date(2026, 11, 30) and "moved to the next window" in ny[0]["plan_note"]
    reply = r.messages("lon-reply")
    assert steps(reply) == [(0, "offer", "email", "sent")]  # the reply came before the first nudge
    bounced = r.messages("berlin-bounce")
    # The address bounced: no more email, the phone step at once in the next window.
    assert steps(bounced) == [
        (0, "offer", "email", "sent"),
        (3, "offer_nudge", "voicemail", "sent"),
    ]
    assert bounced[1]["plan_note"].startswith("moved on") and utc(bounced[1]["sent_at"]) < at("2026-11-27", "16:00")
    away = r.messages("paris-away")
    assert utc(away[1]["scheduled_for"]) == at("2026-12-07", "08:00") and "out of office" in away[1]["plan_note"]
    deadline = r.messages("madrid-deadline")
    assert steps(deadline) == [
        (0, "offer", "email", "sent"),
        (1, "offer_nudge", "email", "sent"),
    ]  # step 2: after it
    assert steps(r.messages("sydney-no")) == [(0, "rejection", "email", "sent")]  # never nudged
    race = r.messages("dublin-race")
    assert steps(race) == [
        (0, "offer", "email", "sent"),
        (1, "offer_nudge", "email", "cancelled"),
    ]
    assert race[1]["last_error"].startswith("stopped: question 2026-11-30 09:31")

    # --- Christmas week in London: 25 and 28 December are bank holidays ---
    r.run(
        [person("lon-xmas", "Europe/London", "GB", decided="2026-12-22T12:00:00Z")],
        at("2026-12-23"),
    )
    r.sweeps(date(2026, 12, 23), date(2026, 12, 31))
    xmas = r.messages("lon-xmas")
    assert utc(xmas[1]["scheduled_for"]) == at("2026-12-29", "09:00")  # 24th, then (25, 28 off) the 29th

    # Nothing went out outside a window, for anyone.
    for sent in r.all_sent():
        zone = ZoneInfo(sent["timezone"])
        local = utc(sent["sent_at"]).astimezone(zone)
        assert time(9) <= local.time() < time(17), sent
        assert is_business_day(local.date(), holiday_country(sent["country"], sent["timezone"])), sent
