"""Warm detection: every state and transition, the opens that must not count, the order of the
list, and `followup candidates` over a ledger whose events came through the receiver's store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from typer.testing import CliRunner

from followup.cli import app
from followup.models import Batch, Candidate, Message
from followup.stages.engagement import Listed, warm_list_markdown
from followup.store import open_ledger
from followup.store.events import store_events
from followup.store.responses import NewResponse, insert_responses
from followup.tracking.engagement import (
    COLD, RESPONDED, WARM, WARMING, Answer, Engagement, Signal, Thresholds, engagement_of, warmest_first,
)  # fmt: skip
from followup.tracking.events import normalise

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)  # a Monday
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"


def delivered(at=T0, key="k1") -> Signal:
    return Signal(key, "delivered", at)


def opened(minutes: float, key="k1", machine=False, agent=SAFARI) -> Signal:
    return Signal(key, "open", T0 + timedelta(minutes=minutes), machine, agent)


def state(*signals, answers=(), zone=None, thresholds=Thresholds()) -> Engagement:
    return engagement_of("c1", signals, answers, thresholds, zone)


def test_nothing_but_a_delivery_is_cold():
    assert (state(delivered()).state, state(delivered()).since) == (COLD, None)


def test_opens_that_do_not_look_human_leave_a_candidate_cold():
    # Apple Mail Privacy Protection, as SendGrid flags it, even an hour later
    assert state(delivered(), opened(60, machine=True)).state == COLD
    # seconds after delivery, with no flag (a proxy in front dropped it): a pre-fetch
    assert state(delivered(), opened(0.05)).state == COLD
    # Gmail's image proxy fetches the pixel on the reader's behalf
    assert state(delivered(), opened(60, agent="Mozilla/5.0 (via ggpht.com GoogleImageProxy)")).state == COLD


def test_one_human_open_is_warming_and_a_second_on_another_day_is_warm():
    one = state(delivered(), opened(30))
    assert (one.state, one.since) == (WARMING, T0 + timedelta(minutes=30))
    same_day = state(delivered(), opened(30), opened(120))
    assert same_day.state == WARMING
    next_day = state(delivered(), opened(30), opened(60 * 24))
    assert (next_day.state, next_day.since) == (WARM, T0 + timedelta(days=1))
    assert next_day.evidence == ("human opens on 2 days: 2026-03-02, 2026-03-03",)
    # A machine open on the second day does not make the second day.
    assert state(delivered(), opened(30), opened(60 * 24, machine=True)).state == WARMING


def test_days_are_the_candidates_own():
    # 23:30 and 00:30 UTC are two days in London and one evening in New York.
    late, after_midnight = opened(9 * 60 + 30), opened(10 * 60 + 30)
    assert state(delivered(), late, after_midnight, zone="Europe/London").state == WARM
    assert state(delivered(), late, after_midnight, zone="America/New_York").state == WARMING


def test_a_click_is_warm_at_once_unless_a_scanner_made_it_on_arrival():
    click = Signal("k1", "click", T0 + timedelta(hours=2), useragent=SAFARI)
    assert (state(delivered(), click).state, state(delivered(), click).since) == (WARM, click.at)
    scanner = Signal("k1", "click", T0 + timedelta(seconds=2))
    assert state(delivered(), scanner).state == COLD


def test_the_thresholds_are_configurable():
    strict = Thresholds(warm_open_days=3, machine_seconds=120)
    assert state(delivered(), opened(30), opened(60 * 24), thresholds=strict).state == WARMING
    assert state(delivered(), opened(1.5), thresholds=strict).state == COLD


def test_any_response_is_responded_and_a_question_needs_an_answer_until_one_is_recorded():
    question = Answer("question", T0 + timedelta(hours=3), "email")
    asked = state(delivered(), answers=[question])
    assert (asked.state, asked.needs_answer, asked.label) == (RESPONDED, True, "responded: question, needs an answer")
    answered = state(delivered(), answers=[question, Answer("accepted", T0 + timedelta(days=1), "email")])
    assert (answered.state, answered.needs_answer, answered.since) == (RESPONDED, False, question.at)
    # A call nobody took is recorded but is no answer.
    assert state(delivered(), opened(30), answers=[Answer("no_answer", T0, "voicemail")]).state == WARMING


def test_the_list_runs_warmest_first_with_the_open_question_on_top():
    states = [
        engagement_of("cold", [delivered()], []),
        engagement_of("warming", [delivered(), opened(30)], []),
        engagement_of("replied", [], [Answer("accepted", T0, "email")]),
        engagement_of("asked", [], [Answer("question", T0, "email")]),
        engagement_of("warm", [delivered(), Signal("k1", "click", T0 + timedelta(hours=1))], []),
    ]
    assert [s.candidate_id for s in warmest_first(states)] == ["asked", "replied", "warm", "warming", "cold"]
    markdown = warm_list_markdown([Listed(s, "A | B") for s in warmest_first(states)], T0)
    assert "| asked | A \\| B | responded: question, needs an answer |" in markdown


def _seed(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        for n, zone in enumerate(["Europe/Berlin", None, "America/Chicago", None]):
            conn.execute(sa.insert(Candidate).values(
                candidate_id=f"c{n}", email=f"p{n}@example.com", first_name=f"Name{n}", last_name="Lima",
                channel="email", timezone=zone, first_batch_id="b1", last_batch_id="b1",
            ))  # fmt: skip
            conn.execute(sa.insert(Message).values(
                message_key=f"k{n}", campaign="spring", candidate_id=f"c{n}", kind="offer", step=0, channel="email",
                status="sent", provider_message_id=f"x{n}", scheduled_for=T0, sent_at=T0,
            ))  # fmt: skip


def _event(n: int, event_id: str, name: str, minutes: float, **extra) -> dict:
    return {"email": f"p{n}@example.com", "timestamp": int((T0 + timedelta(minutes=minutes)).timestamp()),
            "event": name, "sg_event_id": event_id, "sg_message_id": f"x{n}.f.0", "message_key": f"k{n}", **extra}


def test_followup_candidates_lists_the_ledger_warmest_first(ledger_url, tmp_path, monkeypatch):
    engine = open_ledger(ledger_url)
    _seed(engine)
    raw = [_event(n, f"d{n}", "delivered", 0) for n in range(4)] + [
        _event(0, "o0", "open", 0.05),  # c0: a pre-fetch on arrival
        _event(0, "o0b", "open", 90, sg_machine_open=True),  # c0: Apple's, later
        _event(1, "c1s", "click", 0.05, useragent=SAFARI),  # c1: a link scanner on arrival
        _event(1, "o1", "open", 45, useragent=SAFARI),  # c1: warming
        _event(2, "c2", "click", 50, useragent=SAFARI),  # c2: warm
        _event(3, "o3", "open", 60 * 24 * 5, useragent=SAFARI),  # c3: after --now, not yet
    ]
    store_events(engine, [normalise(e, T0) for e in raw], T0)
    insert_responses(engine, [NewResponse("r3", "c3", "k3", "email", "question", None, T0 + timedelta(hours=2),
                                          "outcomes:test.csv")])  # fmt: skip
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", ledger_url)
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    now = (T0 + timedelta(days=1)).isoformat()
    result = CliRunner().invoke(app, ["candidates", "--json", "--now", now])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["candidates"]
    assert [(c["candidate_id"], c["label"]) for c in listed] == [
        ("c3", "responded: question, needs an answer"), ("c2", "warm"), ("c1", "warming"), ("c0", "cold")]
    assert listed[1]["evidence"] == ["click 2026-03-02 14:50 UTC"] and listed[1]["name"] == "Name2 Lima"
    warm_only = json.loads(CliRunner().invoke(app, ["candidates", "--warm", "--json", "--now", now]).stdout)
    assert [c["candidate_id"] for c in warm_only["candidates"]] == ["c3", "c2", "c1"]
    shown = CliRunner().invoke(app, ["candidates", "--now", now], env={"COLUMNS": "200"})
    assert "responded: question, needs an answer" in shown.stdout and "p1@example.com" not in shown.stdout
