"""Planning's SQL: the campaign row, the decisions a batch stored, and new message rows.

Every message exists in `messages` (status planned) before anything renders or sends it. The
rows come from the cadence's rules (followup.cadence, through followup.stages.planning); the
store only writes them: a row whose message_key exists already is skipped (INSERT ... ON
CONFLICT DO NOTHING on the unique key), so planning the same batch twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from itertools import islice
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Campaign, CampaignState, MessageStatus
from followup.store.dialect import DriverSql, raw_cursor

_INSERT_CHUNK = 10_000
_STAGING = "planned_messages"  # PostgreSQL's: a temporary table, dropped at commit


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


# The columns a planned row fills, with their PostgreSQL types (binary COPY sends values as these).
_TYPED_COLUMNS = (
    ("message_key", "text"), ("campaign", "text"), ("candidate_id", "text"), ("decision_id", "integer"),
    ("kind", "text"), ("step", "integer"), ("channel", "text"), ("status", "text"), ("scheduled_for", "timestamptz"),
    ("window_closes", "timestamptz"), ("cadence", "text"), ("cadence_started_at", "timestamptz"),
    ("plan_note", "text"), ("experiment_arm", "text"), ("experiment_delay_days", "integer"),
    ("experiment_hour", "integer"), ("attempts", "integer"), ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)  # fmt: skip
_COLUMNS = tuple(name for name, _ in _TYPED_COLUMNS)


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
    once), skipping those already planned. Returns how many are new.

    Each chunk is written by a thread of its own while `messages` (the planner, when it is a
    generator) makes the next one: the database's share of the insert (index and foreign-key
    upkeep, more than half of it on PostgreSQL) overlaps the planner's Python. The connection is
    used by one thread at a time; a chunk waits for the one before.

    On PostgreSQL a chunk goes by binary COPY into a temporary table and from there into messages
    by INSERT ... SELECT ... ON CONFLICT DO NOTHING: psycopg's executemany sends a statement a
    row, and a sweep's tens of thousands of them cost more than the rest of its planning
    (BENCHMARKS.md)."""
    rows = iter(messages)
    names = ", ".join(_COLUMNS)
    planned = 0
    with engine.begin() as conn, ThreadPoolExecutor(1, thread_name_prefix="followup-plan-writer") as writer:
        driver = DriverSql.of(conn.dialect)
        created = driver.time(datetime.now(timezone.utc))
        written: dict[datetime | None, datetime | str | None] = {None: None}

        def time(moment: datetime | None) -> datetime | str | None:
            # Formatted once per value: many rows share a window, and strftime is a third of the insert.
            value = written.get(moment)
            if value is None and moment is not None:
                value = written[moment] = driver.time(moment)
            return value

        if driver.sqlite:
            sql = (
                f"INSERT INTO messages ({names}) VALUES ({driver.marks(len(_COLUMNS))})"
                " ON CONFLICT (message_key) DO NOTHING"
            )

            def write(values: list[tuple]) -> int:
                return conn.exec_driver_sql(sql, values).rowcount
        else:
            conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {_STAGING} ON COMMIT DROP AS SELECT {names} FROM messages WITH NO DATA"
            )
            copy_sql = f"COPY {_STAGING} ({names}) FROM STDIN (FORMAT BINARY)"  # a fifth of text's cost

            def write(values: list[tuple]) -> int:
                with raw_cursor(conn, copy_sql) as cursor, cursor.copy(copy_sql) as copy:
                    copy.set_types([kind for _, kind in _TYPED_COLUMNS])
                    for value in values:
                        copy.write_row(value)
                new = conn.exec_driver_sql(
                    f"INSERT INTO messages ({names}) SELECT {names} FROM {_STAGING}"
                    " ON CONFLICT (message_key) DO NOTHING"
                ).rowcount
                conn.exec_driver_sql(f"TRUNCATE {_STAGING}")
                return new

        pending: Future[int] | None = None
        while chunk := list(islice(rows, _INSERT_CHUNK)):
            values = [(m.message_key, m.campaign, m.candidate_id, m.decision_id, m.kind, m.step, m.channel,
                       MessageStatus.PLANNED.value, time(m.scheduled_for), time(m.window_closes), m.cadence,
                       time(m.cadence_started_at), m.plan_note, m.experiment_arm, m.experiment_delay_days,
                       m.experiment_hour, 0, created, created)
                      for m in chunk]  # fmt: skip
            if pending is not None:
                planned += pending.result()
            pending = writer.submit(write, values)
        if pending is not None:
            planned += pending.result()
    return planned
