"""How the sweep's planning reads and writes the ledger, on SQLite and PostgreSQL: finished
cadences are not read again, rows are written chunk by chunk by a writer thread and nothing is
planned twice, and a failure anywhere (a chunk the database refuses, the planner itself) leaves
nothing of the sweep behind."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from followup.cadence.file import load_cadence
from followup.cadence.planner import Company
from followup.models import Batch, Candidate, Decision, Message
from followup.stages.planning import PlanSetup, last_steps, plan_next
from followup.store import open_ledger
from followup.store import planning as store_planning
from followup.store.cadences import open_cadences
from followup.store.planning import NewMessage, insert_messages

UTC = timezone.utc
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday: 10:00 in New York
SENT = NOW - timedelta(days=7)  # last Wednesday: every default wait is over


def seed(engine, cadences: dict[str, tuple[str, str, int]]) -> dict[str, int]:
    """Candidates in New York whose cadences have sent steps 0..last: candidate -> (decision,
    channel, last step sent). Returns candidate -> decision id."""
    ids = {}
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        for n, (cid, (decision, channel, last)) in enumerate(cadences.items(), start=1):
            conn.execute(sa.insert(Candidate).values(
                candidate_id=cid, email=f"{cid}@example.com", first_name="Ana", last_name="Silva", phone="+12125550100",
                timezone="America/New_York", channel=channel, first_batch_id="b1", last_batch_id="b1"))  # fmt: skip
            conn.execute(sa.insert(Decision).values(id=n, candidate_id=cid, batch_id="b1", source_line=n + 1,
                                                    role="Data Engineer", decision=decision, decided_at=SENT))  # fmt: skip
            conn.execute(sa.insert(Message), [
                {"message_key": f"dec:{cid}:{step}", "campaign": "dec", "candidate_id": cid, "decision_id": n,
                 "cadence": f"{decision}:{channel}", "kind": "offer" if decision == "offer" else "rejection",
                 "step": step, "channel": "email", "status": "sent", "scheduled_for": SENT, "sent_at": SENT,
                 "cadence_started_at": SENT if step else None}
                for step in range(last + 1)
            ])  # fmt: skip
            ids[cid] = n
    return ids


def rows(ids: dict[str, int], count: int, start: int = 0) -> list[NewMessage]:
    """`count` planned nudges, spread over the seeded decisions."""
    people = list(ids.items())
    return [
        NewMessage(f"nudge-{n}", "dec", people[n % len(people)][0], people[n % len(people)][1], "offer_nudge", 10 + n,
                   "email", NOW, NOW + timedelta(hours=2), "offer:email", SENT, "2 business days after step 0")
        for n in range(start, start + count)
    ]  # fmt: skip


def planned(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(Message.message_key).where(Message.status == "planned")).scalars())


@pytest.fixture
def small_chunks(monkeypatch):
    """Three rows a chunk, so that a handful of rows crosses the writer thread several times."""
    monkeypatch.setattr(store_planning, "_INSERT_CHUNK", 3)


def test_rows_go_in_chunk_by_chunk_and_nothing_is_planned_twice(ledger_url, small_chunks):
    engine = open_ledger(ledger_url)
    ids = seed(engine, {"c1": ("offer", "email", 0), "c2": ("offer", "email", 0)})
    assert insert_messages(engine, iter(rows(ids, 10))) == 10
    assert len(planned(engine)) == 10
    assert insert_messages(engine, rows(ids, 10)) == 0  # the same rows again: all there already
    assert insert_messages(engine, rows(ids, 12)) == 2  # ten old, two new
    assert planned(engine) == sorted(f"nudge-{n}" for n in range(12))
    assert insert_messages(engine, []) == 0


def test_a_chunk_the_database_refuses_leaves_nothing_of_the_sweep(ledger_url, small_chunks):
    engine = open_ledger(ledger_url)
    ids = seed(engine, {"c1": ("offer", "email", 0)})
    bad = [*rows(ids, 5), rows(ids, 1, start=5)[0]._replace(kind=None), *rows(ids, 3, start=6)]  # kind is NOT NULL
    with pytest.raises(sa.exc.IntegrityError):
        insert_messages(engine, bad)
    assert planned(engine) == []  # the chunks written before it went back with it
    assert insert_messages(engine, rows(ids, 4)) == 4  # and the ledger takes the next sweep's rows


def test_a_planner_that_fails_midway_leaves_nothing_and_the_collector_runs_again(ledger_url, small_chunks):
    engine = open_ledger(ledger_url)
    ids = seed(engine, {"c1": ("offer", "email", 0)})

    def planner():
        yield from rows(ids, 7)
        raise RuntimeError("the rules failed")

    with pytest.raises(RuntimeError, match="the rules failed"):
        insert_messages(engine, planner())
    assert planned(engine) == []
    assert gc.isenabled()


def test_a_cadence_that_sent_its_last_step_is_not_read_again(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    spec = load_cadence(None)
    ids = seed(engine, {
        "rejected": ("reject", "email", 0),  # a rejection has one step
        "nudged-twice": ("offer", "email", 2),  # step 3, the call, is still to come
        "all-four": ("offer", "email", 3),
        "invited": ("offer", "in_person", 2),  # an in-person offer has three steps
        "just-offered": ("offer", "voicemail", 0),
    })  # fmt: skip
    assert last_steps(spec)["offer:email"] == 3 and last_steps(spec)["reject:email"] == 0
    assert sorted(f.candidate_id for f in open_cadences(engine, last_steps(spec))) == ["just-offered", "nudged-twice"]

    setup = PlanSetup(ledger_url, spec, Company("America/New_York", "US", office=True, phone=True))
    steps = plan_next(setup, NOW)
    assert gc.isenabled()
    assert steps.planned == 2 and steps.verdicts == {}
    with engine.connect() as conn:
        new = conn.execute(sa.select(Message.decision_id, Message.step, Message.channel, Message.scheduled_for)
                           .where(Message.status == "planned").order_by(Message.decision_id)).all()  # fmt: skip
    # The offer by voicemail is followed by the offer in writing the same day; the twice-nudged
    # candidate gets the call; both in today's New York window (10:00 now).
    assert [(d, s, c) for d, s, c, _ in new] == [(ids["nudged-twice"], 3, "voicemail"), (ids["just-offered"], 1, "email")]
    assert all(at.replace(tzinfo=UTC) == NOW for *_, at in new)
    assert steps.by_day == {"2026-12-02": 2}
