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

from followup.models import Campaign, CampaignState, MessageStatus
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
    scheduled_for: datetime  # UTC: the window opens
    window_closes: datetime | None = None  # UTC
    cadence: str | None = None  # "offer:email"
    cadence_started_at: datetime | None = None
    plan_note: str | None = None
    experiment_arm: str | None = None
    experiment_delay_days: int | None = None
    experiment_hour: int | None = None


_COLUMNS = (
    "message_key", "campaign", "candidate_id", "decision_id", "kind", "step", "channel", "status", "scheduled_for",
    "window_closes", "cadence", "cadence_started_at", "plan_note", "experiment_arm", "experiment_delay_days",
    "experiment_hour", "attempts", "created_at", "updated_at",
)  # fmt: skip


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
            f"INSERT INTO messages ({', '.join(_COLUMNS)}) VALUES ({driver.marks(len(_COLUMNS))})"
            " ON CONFLICT (message_key) DO NOTHING"
        )

        def time(moment: datetime | None) -> datetime | str | None:
            return None if moment is None else driver.time(moment)

        while chunk := list(islice(rows, _INSERT_CHUNK)):
            values = [(m.message_key, m.campaign, m.candidate_id, m.decision_id, m.kind, m.step, m.channel,
                       MessageStatus.PLANNED.value, driver.time(m.scheduled_for), time(m.window_closes), m.cadence,
                       time(m.cadence_started_at), m.plan_note, m.experiment_arm, m.experiment_delay_days,
                       m.experiment_hour, 0, created, created)
                      for m in chunk]  # fmt: skip
            planned += conn.exec_driver_sql(sql, values).rowcount
    return planned
