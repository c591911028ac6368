"""Engagement's SQL: the opens, clicks and deliveries of each contacted candidate's messages, and
their responses, as of the business clock (tracking.engagement decides what they mean)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Candidate, Event, Message, Response
from followup.store.dialect import as_utc, aware
from followup.tracking.engagement import Answer, Signal

_C, _E, _M, _R = Candidate.__table__, Event.__table__, Message.__table__, Response.__table__
_SIGNALS = ("delivered", "open", "click")


def contacted(engine: Engine, now: datetime) -> dict[str, tuple[str | None, str | None, str | None]]:
    """candidate_id -> (first name, last name, time zone) of every candidate written to by `now`."""
    sent = sa.exists(sa.select(_M.c.id).where(_M.c.candidate_id == _C.c.candidate_id, _M.c.sent_at <= as_utc(now)))
    query = sa.select(_C.c.candidate_id, _C.c.first_name, _C.c.last_name, _C.c.timezone).where(sent)
    with engine.connect() as conn:
        return {cid: (first, last, zone) for cid, first, last, zone in conn.execute(query)}


def signals(engine: Engine, now: datetime) -> dict[str, list[Signal]]:
    """candidate_id -> their messages' deliveries, opens and clicks stamped up to `now`."""
    query = (
        sa.select(_M.c.candidate_id, _E.c.message_key, _E.c.event, _E.c.occurred_at, _E.c.machine_open, _E.c.payload)
        .join(_M, _M.c.message_key == _E.c.message_key)
        .where(_E.c.event.in_(_SIGNALS), _E.c.matched.is_(True), _E.c.occurred_at <= as_utc(now))
    )
    found: dict[str, list[Signal]] = defaultdict(list)
    with engine.connect() as conn:
        for cid, key, event, at, machine, payload in conn.execute(query):
            agent = payload.get("useragent") if event != "delivered" and isinstance(payload, dict) else None
            found[cid].append(Signal(key, event, aware(at), bool(machine), agent))
    return found


def answers(engine: Engine, now: datetime) -> dict[str, list[Answer]]:
    query = sa.select(_R.c.candidate_id, _R.c.outcome, _R.c.received_at, _R.c.channel).where(
        _R.c.received_at <= as_utc(now)
    )
    found: dict[str, list[Answer]] = defaultdict(list)
    with engine.connect() as conn:
        for cid, outcome, at, channel in conn.execute(query):
            found[cid].append(Answer(outcome, aware(at), channel))
    return found
