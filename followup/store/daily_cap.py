"""The daily cap's SQL (FOLLOWUP_DAILY_CAP): per company day, the emails every sender has taken.

A sender takes the allowance of the emails it claims in the very transaction that claims them
(followup.sending.daily_cap): on PostgreSQL the day's row stays locked from the take to the
commit, on SQLite the transaction holds the single write lock. Another sender's take waits for
that commit and then sees what this one took, so no two senders ever spend the same allowance.
Statements here run once per claim or per day, never once per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import MessageStatus
from followup.store.dialect import DriverSql

_SENT = MessageStatus.SENT.value


def open_day(engine: Engine, day: str, since: datetime, channels: Sequence[str]) -> None:
    """Make the row of `day` (the company's date, ISO 8601) unless it exists.

    A new row starts from the messages on `channels` sent since `since` (the day's start, on the
    business clock), so a day that began before its row existed (a ledger migrated mid-day)
    still keeps to the cap."""
    with engine.begin() as conn:
        sql = DriverSql.of(conn.dialect)
        p = sql.mark
        if conn.exec_driver_sql(f"SELECT 1 FROM daily_cap WHERE day = {p}", (day,)).first() is not None:
            return
        conn.exec_driver_sql(
            f"INSERT INTO daily_cap (day, taken) SELECT {p}, count(*) FROM messages "
            f"WHERE status = '{_SENT}' AND channel IN ({sql.marks(len(channels))}) AND sent_at >= {p} "
            "ON CONFLICT (day) DO NOTHING",
            (day, *channels, sql.time(since)),
        )


def take(conn: sa.Connection, day: str, cap: int, wanted: int) -> int:
    """Take up to `wanted` of the `cap` emails of `day`, in the caller's transaction; returns how
    many were taken (0 once the day's cap is spent).

    All `wanted` are added in one statement, whose RETURNING shows what was taken before; what
    the cap does not allow goes back before the caller's transaction commits, so no other
    sender ever sees more taken than the cap."""
    sql = DriverSql.of(conn.dialect)
    p = sql.mark
    after = conn.exec_driver_sql(
        f"UPDATE daily_cap SET taken = taken + {p} WHERE day = {p} RETURNING taken", (wanted, day)
    ).scalar()
    if after is None:
        # open_day() makes the row before any take: without it a spent cap and a lost row would look
        # the same, and emails would stop for the day in silence.
        raise LookupError(f"the daily cap has no row for {day}; open_day() it first")
    granted = max(0, min(wanted, cap - (after - wanted)))
    give_back(conn, day, wanted - granted)
    return granted


def give_back(conn: sa.Connection, day: str, n: int) -> None:
    """Return the allowance of `n` emails of `day` that the provider did not take (or never saw)."""
    if n:
        p = DriverSql.of(conn.dialect).mark
        conn.exec_driver_sql(f"UPDATE daily_cap SET taken = taken - {p} WHERE day = {p}", (n, day))
