"""Planning's SQL: the campaign row, the decisions a batch stored, and new message rows.

Every message exists in `messages` (status planned) before anything renders or sends it. The
rows come from the cadence's rules (followup.cadence, through followup.stages.planning); the
store only writes them: a row whose message_key exists already is skipped (INSERT ... ON
CONFLICT DO NOTHING on the unique key), so planning the same batch twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from itertools import islice
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Campaign, CampaignState, Candidate, Decision, MessageStatus
from followup.store import stops
from followup.store.dialect import DriverSql

_INSERT_CHUNK = 10_000


class NewMessage(NamedTuple):
    message_key: str
    campaign: str
    candidate_id: str
    decision_id: int
    kind: str
    step: int
    channel: str
    scheduled_for: datetime  # UTC


class StoredDecision(NamedTuple):
    decision_id: int
    candidate_id: str
    decision: str
    channel: str
    stopped: bool  # `followup stop` took the candidate out (store.stops)


def ensure_campaign(engine: Engine, name: str) -> CampaignState:
    """The campaign's state, creating it active on first use."""
    table = Campaign.__table__
    with engine.begin() as conn:
        state = conn.execute(sa.select(table.c.state).where(table.c.name == name)).scalar()
        if state is None:
            conn.execute(table.insert().values(name=name, state=CampaignState.ACTIVE.value,
                                               updated_at=datetime.now(timezone.utc)))  # fmt: skip
            return CampaignState.ACTIVE
    return CampaignState(state)


def batch_decisions(engine: Engine, batch_id: str) -> list[StoredDecision]:
    """Every decision the batch stored, with the candidate's channel and whether they are
    stopped, in the batch's order."""
    query = (
        sa.select(Decision.id, Decision.candidate_id, Decision.decision, Candidate.channel,
                  stops.stopped(Decision.candidate_id))  # fmt: skip
        .join(Candidate, Candidate.candidate_id == Decision.candidate_id)
        .where(Decision.batch_id == batch_id)
        .order_by(Decision.id)
    )
    with engine.connect() as conn:
        return [StoredDecision(*row) for row in conn.execute(query)]


def insert_messages(engine: Engine, messages: Iterable[NewMessage]) -> int:
    """Store planned messages, a chunk at a time (a million never become a million tuples at
    once), skipping those already planned. Returns how many are new."""
    planned = 0
    rows = iter(messages)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        driver = DriverSql.of(conn.dialect)
        created = driver.time(now)
        sql = (
            "INSERT INTO messages (message_key, campaign, candidate_id, decision_id, kind, step, channel,"
            f" status, scheduled_for, attempts, created_at, updated_at) VALUES ({driver.marks(12)})"
            " ON CONFLICT (message_key) DO NOTHING"
        )
        while chunk := list(islice(rows, _INSERT_CHUNK)):
            values = [(m.message_key, m.campaign, m.candidate_id, m.decision_id, m.kind, m.step, m.channel,
                       MessageStatus.PLANNED.value, driver.time(m.scheduled_for), 0, created, created)
                      for m in chunk]  # fmt: skip
            planned += conn.exec_driver_sql(sql, values).rowcount
    return planned
