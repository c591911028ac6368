"""Send windows' SQL: the due messages whose window closed before a sender got to them, and
writing where each goes instead (followup.cadence.missed decides).

The claim never takes a row whose window closed (store.sending); these rows would otherwise wait
in `rendered` for good. A row is moved or cancelled only while it is still claimable and its
window still the closed one, so a planner or another send stage that changed it meanwhile wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Candidate, Decision, Message, MessageStatus, utcnow
from followup.store.dialect import as_utc, aware, chunks

_M = Message.__table__
_C = Candidate.__table__
_D = Decision.__table__
_CLAIMABLE = (MessageStatus.RENDERED.value, MessageStatus.RETRY_WAIT.value)


class ClosedWindow(NamedTuple):
    id: int
    channel: str
    experiment_hour: int | None
    window_closes: datetime  # UTC
    timezone: str | None  # the candidate's
    country: str | None
    recruiter_timezone: str | None
    decision: str | None  # offer | reject; None for a message of no decision
    offer_deadline: datetime | None  # UTC


class Move(NamedTuple):
    id: int
    closed: datetime  # the window_closes it had
    opens: datetime
    closes: datetime
    note: str


def closed_windows(engine: Engine, now: datetime, campaign: str | None = None) -> list[ClosedWindow]:
    """Due rendered/retry_wait messages (of `campaign`, or all) whose window closed at or before
    `now` (the business clock), with what finding their next window takes."""
    at = as_utc(now)
    conditions = [
        _M.c.status.in_(_CLAIMABLE),
        sa.or_(_M.c.scheduled_for.is_(None), _M.c.scheduled_for <= at),
        _M.c.window_closes <= at,
    ]
    if campaign is not None:
        conditions.append(_M.c.campaign == campaign)
    query = (
        sa.select(_M.c.id, _M.c.channel, _M.c.experiment_hour, _M.c.window_closes, _C.c.timezone, _C.c.country,
                  _D.c.recruiter_timezone, _D.c.decision, _D.c.offer_deadline)
        .select_from(_M.join(_C, _C.c.candidate_id == _M.c.candidate_id).outerjoin(_D, _D.c.id == _M.c.decision_id))
        .where(*conditions)
        .order_by(_M.c.id)
    )  # fmt: skip
    with engine.connect() as conn:
        return [
            ClosedWindow(*row[:3], aware(row.window_closes), *row[4:8], aware(row.offer_deadline))
            for row in conn.execute(query)
        ]


def _still_closed() -> list[sa.ColumnElement[bool]]:
    # No IN (...) here: SQLAlchemy expands it per execution, which executemany cannot do.
    claimable = sa.or_(*(_M.c.status == status for status in _CLAIMABLE))
    return [_M.c.id == sa.bindparam("id_"), claimable, _M.c.window_closes == sa.bindparam("closed")]


def move_windows(engine: Engine, moves: Sequence[Move]) -> int:
    """Each row to its new window (scheduled_for, window_closes), with the plan_note saying why;
    in one transaction. Returns how many moved."""
    statement = _M.update().where(*_still_closed()).values(
        scheduled_for=sa.bindparam("opens"), window_closes=sa.bindparam("closes"), plan_note=sa.bindparam("note"),
        updated_at=utcnow(),
    )  # fmt: skip
    params = [{"id_": m.id, "closed": as_utc(m.closed), "opens": as_utc(m.opens), "closes": as_utc(m.closes),
               "note": m.note} for m in moves]  # fmt: skip
    return _execute(engine, statement, params)


def cancel_closed(engine: Engine, rows: Sequence[tuple[int, datetime, str]]) -> int:
    """(id, the window_closes it had, why) -> `cancelled` with that last_error: it will never be sent."""
    statement = _M.update().where(*_still_closed()).values(
        status=MessageStatus.CANCELLED.value, last_error=sa.bindparam("reason"), updated_at=utcnow()
    )
    params = [{"id_": row_id, "closed": as_utc(closed), "reason": reason} for row_id, closed, reason in rows]
    return _execute(engine, statement, params)


def _execute(engine: Engine, statement: sa.Update, params: list[dict]) -> int:
    changed = 0
    with engine.begin() as conn:
        for chunk in chunks(params):
            changed += conn.execute(statement, list(chunk)).rowcount
    return changed
