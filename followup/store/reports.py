"""Where campaigns stand, read back for people and reports: counts by status, the common
failure reasons, the campaigns listing, call-sheet rows, and what a dry run compares against.
Read-only: nothing here changes the ledger."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Campaign, Message, MessageStatus
from followup.store.dialect import as_utc, aware

_M = Message.__table__
_K = Campaign.__table__


def campaigns(engine: Engine) -> list[dict]:
    """Every campaign: name, state, why (when paused or cancelled), and its messages by status."""
    with engine.connect() as conn:
        known = conn.execute(sa.select(_K.c.name, _K.c.state, _K.c.reason).order_by(_K.c.name)).all()
        counts = conn.execute(
            sa.select(_M.c.campaign, _M.c.status, sa.func.count()).group_by(_M.c.campaign, _M.c.status)
        ).all()
    by_campaign: dict[str, dict[str, int]] = {}
    for name, status, n in counts:
        by_campaign.setdefault(name, {})[status] = n
    return [{"name": name, "state": state, "reason": reason, "messages": by_campaign.get(name, {})}
            for name, state, reason in known]  # fmt: skip


def status_counts(engine: Engine, campaign: str | None = None) -> dict[str, int]:
    """How many messages are in each status (of `campaign`, or all)."""
    query = sa.select(_M.c.status, sa.func.count()).group_by(_M.c.status)
    if campaign is not None:
        query = query.where(_M.c.campaign == campaign)
    with engine.connect() as conn:
        return {_plain(status): n for status, n in conn.execute(query)}


def waiting_by_day(engine: Engine, campaign: str | None, now: datetime) -> tuple[dict[str, int], datetime | None]:
    """Messages planned or rendered whose window opens after `now`, by the UTC day it opens, and
    the earliest of those openings."""
    query = sa.select(_M.c.scheduled_for).where(
        _M.c.status.in_((MessageStatus.PLANNED.value, MessageStatus.RENDERED.value)), _M.c.scheduled_for > as_utc(now)
    )
    if campaign is not None:
        query = query.where(_M.c.campaign == campaign)
    with engine.connect() as conn:
        openings = [aware(at) for at in conn.execute(query).scalars()]
    days = Counter(f"{at:%Y-%m-%d}" for at in openings)
    return dict(sorted(days.items())), min(openings, default=None)


def failure_reasons(engine: Engine, campaign: str | None, statuses: Sequence[str], limit: int = 10) -> list[tuple[str, str, int]]:
    """The most common (status, reason) pairs among messages in `statuses`, most frequent first."""
    reason = sa.func.coalesce(_M.c.last_error, "")
    query = (
        sa.select(_M.c.status, reason, sa.func.count().label("n"))
        .where(_M.c.status.in_(statuses))
        .group_by(_M.c.status, reason)
        .order_by(sa.desc("n"))
        .limit(limit)
    )
    if campaign is not None:
        query = query.where(_M.c.campaign == campaign)
    with engine.connect() as conn:
        return [(_plain(status), text, n) for status, text, n in conn.execute(query)]


def _plain(status: MessageStatus | str) -> str:
    """The status as the ledger writes it: the column reads back as the enum, whose format() is
    'MessageStatus.FAILED', and counts and reasons end up in f-strings and reports."""
    return MessageStatus(status).value


def keys_past_rendering(engine: Engine, campaign: str) -> set[str]:
    """The message keys of the campaign already handed on (sent, sending, waiting, failed...)."""
    query = sa.select(_M.c.message_key).where(
        _M.c.campaign == campaign, _M.c.status.not_in((MessageStatus.PLANNED.value, MessageStatus.RENDERED.value))
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def rendered_messages(engine: Engine, campaign: str) -> list[dict]:
    """The campaign's rendered messages in planning order: key, who, what, and the text."""
    columns = ("message_key", "candidate_id", "kind", "channel", "variant", "subject", "text_body")
    query = (
        sa.select(*(_M.c[c] for c in columns))
        .where(_M.c.campaign == campaign, _M.c.status == MessageStatus.RENDERED.value)
        .order_by(_M.c.id)
    )
    with engine.connect() as conn:
        return [dict(zip(columns, row)) for row in conn.execute(query)]


def call_sheet_rows(engine: Engine, campaign: str, channels: Sequence[str]) -> list[dict]:
    """The call-sheet rows written so far for the campaign's messages on `channels` (those
    delivered onto call sheets), by time to call."""
    query = sa.select(_M.c.call_sheet).where(
        _M.c.campaign == campaign, _M.c.channel.in_(channels), _M.c.status == MessageStatus.SENT.value
    )
    with engine.connect() as conn:
        rows = [row for row in conn.execute(query).scalars() if row]
    return sorted(rows, key=lambda row: row.get("local_time_to_call", ""))
