"""hold_email_nudges_until_replies_tracked on the ledger, on SQLite and PostgreSQL: while replies
are not tracked a sweep sends first messages and calls but not the email nudges, and once they are
(FOLLOWUP_REPLY_DOMAIN) the next sweep sends each held nudge, once. The campaign runs as the flow;
the sweeps run as their stage functions (plan the next steps, render, send)."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.campaign import run_campaign
from followup.cadence.file import default_cadence_file
from followup.config import Settings
from followup.models import Message
from followup.sending.setup import SendSetup
from followup.stages import rendering, sending
from followup.stages.planning import PlanSetup, plan_next, upcoming
from followup.store import open_ledger
from followup.transports.memory import MemoryTransport

pytestmark = pytest.mark.usefixtures("prefect_harness")
UTC = timezone.utc
MONDAY = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)  # 10:00 in New York
WEDNESDAY = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # two business days on: the nudges are due
THURSDAY = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
COLUMNS = ("candidate_id", "email", "first_name", "last_name", "role", "decision", "channel", "phone", "timezone",
           "decided_at", "recruiter_phone")  # fmt: skip
PEOPLE = [
    ("wrote", "wrote@candidates.example.org", "Ana", "Silva", "Data Engineer", "offer", "email", "", "America/New_York",
     "2026-11-13T15:00:00Z", ""),
    ("called", "called@candidates.example.org", "Bo", "Nilsson", "Analyst", "offer", "voicemail", "+1 212 555 0100",
     "America/New_York", "2026-11-13T15:00:00Z", "+1 212 555 0199"),
]  # fmt: skip


def cadence_file(tmp_path: Path, hold: bool) -> Path:
    text = default_cadence_file().read_text(encoding="utf-8")
    path = tmp_path / "cadence.yaml"
    path.write_text(text.replace("hold_email_nudges_until_replies_tracked: false",
                                 f"hold_email_nudges_until_replies_tracked: {str(hold).lower()}"), encoding="utf-8")
    return path


class Round:
    def __init__(self, tmp_path: Path, ledger_url: str, hold: bool):
        self.url = ledger_url
        self.settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                                 send_concurrency=4, senders=1, cadence_file=cadence_file(tmp_path, hold))  # fmt: skip
        self.plan = PlanSetup.of(self.settings)
        self.render = rendering.RenderSetup.of(self.settings)
        self.send = SendSetup.of(self.settings)
        self.transport = MemoryTransport()
        path = tmp_path / "round.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(PEOPLE)
        run_campaign(path, "nov", None, self.settings, MONDAY, email=self.transport)

    def sweep(self, now: datetime, plan: PlanSetup | None = None):
        steps = plan_next(plan or self.plan, now)
        for chunk in rendering.chunks(rendering.planned(self.url)):
            rendering.render_and_store(self.url, chunk, self.render, now)
        sending.send_stage(self.send, business_now=now, email=self.transport)
        return steps

    def steps(self, cid: str) -> list[tuple]:
        with open_ledger(self.url).connect() as conn:
            rows = conn.execute(sa.select(Message.step, Message.kind, Message.channel, Message.status)
                                .where(Message.candidate_id == cid).order_by(Message.step))  # fmt: skip
            return [tuple(row) for row in rows]

    def nudge(self, cid: str, step: int) -> dict:
        with open_ledger(self.url).connect() as conn:
            return dict(conn.execute(sa.select(Message.__table__).where(Message.candidate_id == cid,
                                                                        Message.step == step)).one()._mapping)

    def emails_to(self, cid: str) -> int:
        return sum(message.to_email == f"{cid}@candidates.example.org" for message in self.transport.outbox)


def test_with_the_hold_on_email_nudges_wait_for_reply_tracking_then_go_once(tmp_path, ledger_url):
    r = Round(tmp_path, ledger_url, hold=True)
    assert not r.plan.tracks_replies and r.plan.cadence.hold_email_nudges_until_replies_tracked
    assert r.steps("wrote") == [(0, "offer", "email", "sent")]
    assert r.steps("called") == [(0, "offer", "voicemail", "sent")]
    r.sweep(MONDAY.replace(minute=30))  # the offer in writing after the call: the first email, not held
    assert r.steps("called")[1] == (1, "offer", "email", "sent")

    steps = r.sweep(WEDNESDAY)
    # The emailed offer's nudge is held; the caller's voicemail nudge goes.
    assert r.steps("wrote") == [(0, "offer", "email", "sent")]
    assert r.steps("called")[2] == (2, "offer_nudge", "voicemail", "sent")
    assert steps.held_until_replies_tracked == 1 and steps.held == [] and steps.verdicts == {"held": 1}
    assert r.sweep(WEDNESDAY.replace(hour=18)).held_until_replies_tracked == 1  # still held, still counted
    [held] = upcoming(r.plan, "wrote", WEDNESDAY)  # what `followup timeline` shows
    assert (held.what, held.reason) == ("held", "held: step 1 (offer_nudge by email): email replies are not "
                                                "tracked; set FOLLOWUP_REPLY_DOMAIN")  # fmt: skip
    assert r.emails_to("wrote") == 1

    tracked = PlanSetup.of(r.settings.model_copy(update={"reply_domain": "replies.acme.example"}))
    assert tracked.tracks_replies and tracked == replace(r.plan, tracks_replies=True)
    steps = r.sweep(THURSDAY, tracked)
    assert steps.planned == 1 and steps.held_until_replies_tracked == 0
    assert r.steps("wrote") == [(0, "offer", "email", "sent"), (1, "offer_nudge", "email", "sent")]
    nudge = r.nudge("wrote", 1)
    # A step whose time passed: in the window open now, with the cadence's usual note.
    assert nudge["scheduled_for"].replace(tzinfo=UTC) == THURSDAY
    assert nudge["plan_note"] == "2 business days after step 0"
    for later in (THURSDAY.replace(hour=16), THURSDAY.replace(hour=20)):
        r.sweep(later, tracked)
    assert r.emails_to("wrote") == 2  # the offer and the one nudge: never twice


def test_with_the_hold_off_nothing_is_held(tmp_path, ledger_url):
    r = Round(tmp_path, ledger_url, hold=False)
    r.sweep(MONDAY.replace(minute=30))
    steps = r.sweep(WEDNESDAY)
    assert steps.held_until_replies_tracked == 0
    assert r.steps("wrote") == [(0, "offer", "email", "sent"), (1, "offer_nudge", "email", "sent")]
    assert r.steps("called")[2] == (2, "offer_nudge", "voicemail", "sent")
