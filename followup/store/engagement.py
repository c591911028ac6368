"""Engagement's SQL: the opens, clicks and deliveries of each contacted candidate's messages, and
their responses, as of the business clock (tracking.engagement decides what they mean)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import RESPONSES, Candidate, Message, Response
from followup.store.dialect import DriverSql, as_utc, aware, read_time
from followup.tracking.engagement import Answer, Signal

_C, _M, _R = Candidate.__table__, Message.__table__, Response.__table__


def contacted(engine: Engine, now: datetime) -> dict[str, tuple[str | None, str | None, str | None]]:
    """candidate_id -> (first name, last name, time zone) of every candidate written to by `now`."""
    sent = sa.exists(sa.select(_M.c.id).where(_M.c.candidate_id == _C.c.candidate_id, _M.c.sent_at <= as_utc(now)))
    query = sa.select(_C.c.candidate_id, _C.c.first_name, _C.c.last_name, _C.c.timezone).where(sent)
    with engine.connect() as conn:
        return {cid: (first, last, zone) for cid, first, last, zone in conn.execute(query)}


def signals(engine: Engine, now: datetime) -> dict[str, list[Signal]]:
    """candidate_id -> their messages' opens and clicks stamped up to `now`, and the delivery of
    each message they name (its delivered_at, the earliest delivery event: store.events).

    Left out in SQL, as tracking.engagement would discount or never read them: opens SendGrid
    flags as a machine's, the delivery events themselves (their summary stands in), and everything
    of candidates who have responded (their state is decided by the response). Only an open's
    user agent is read of its payload. A season of 5,000,000 events, read whole through
    SQLAlchemy, took 52 s and 2.3 GB here, every sweep."""
    responses = sorted(outcome.value for outcome in RESPONSES)
    found: dict[str, list[Signal]] = defaultdict(list)
    with engine.connect() as conn:
        sql = DriverSql.of(conn.dialect)
        agent = "json_extract(e.payload, '$.useragent')" if sql.sqlite else "e.payload ->> 'useragent'"
        answered, outcomes = sql.one_of("r.outcome", responses)
        query = (
            f"SELECT m.candidate_id, e.message_key, e.event, e.occurred_at, "
            f"CASE WHEN e.event = 'open' THEN {agent} END, "
            f"CASE WHEN m.delivered_at <= {sql.mark} THEN m.delivered_at END "
            "FROM events AS e JOIN messages AS m ON m.message_key = e.message_key "
            f"WHERE e.event IN ('open', 'click') AND e.matched AND e.occurred_at <= {sql.mark} "
            "AND NOT (e.event = 'open' AND e.machine_open) "
            "AND NOT EXISTS (SELECT 1 FROM responses AS r WHERE r.candidate_id = m.candidate_id "
            f"AND r.received_at <= {sql.mark} AND {answered})"
        )
        named: set[str] = set()  # messages whose delivery is listed
        for cid, key, event, at, useragent, delivered_at in conn.exec_driver_sql(
            query, (sql.time(now), sql.time(now), sql.time(now), *outcomes)
        ):
            listed = found[cid]
            listed.append(Signal(key, event, read_time(at), False, useragent))
            if delivered_at is not None and key not in named:
                named.add(key)
                listed.append(Signal(key, "delivered", read_time(delivered_at)))
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
