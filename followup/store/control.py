"""A recruiter's hands on the ledger: pause, resume or cancel a campaign, stop one person,
queue failed messages again, and count where a campaign stands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Campaign, CampaignState, Candidate, Message, MessageStatus, utcnow

_M = Message.__table__
_K = Campaign.__table__
# Not yet handed to any transport: what pausing holds back and cancelling or stopping ends.
PENDING = (MessageStatus.PLANNED.value, MessageStatus.RENDERED.value, MessageStatus.RETRY_WAIT.value)


class UnknownName(LookupError):
    """No campaign or candidate by that name in the ledger."""


def _set_state(engine: Engine, name: str, state: CampaignState, reason: str | None) -> None:
    with engine.begin() as conn:
        known = conn.execute(sa.select(_K.c.name).where(_K.c.name == name)).first()
        if known is None:
            raise UnknownName(f"no campaign named {name!r}; `followup campaigns` lists them")
        conn.execute(_K.update().where(_K.c.name == name).values(state=state.value, reason=reason, updated_at=utcnow()))


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


def campaign_state(engine: Engine, name: str) -> tuple[CampaignState, str | None] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(_K.c.state, _K.c.reason).where(_K.c.name == name)).first()
    return None if row is None else (CampaignState(row.state), row.reason)


def pause(engine: Engine, name: str, reason: str = "paused by hand") -> None:
    """Senders claim nothing more from the campaign; messages in flight finish."""
    _set_state(engine, name, CampaignState.PAUSED, reason)


def resume(engine: Engine, name: str) -> None:
    state = campaign_state(engine, name)
    if state is not None and state[0] is CampaignState.CANCELLED:
        raise ValueError(f"campaign {name!r} was cancelled; a cancelled campaign does not resume")
    _set_state(engine, name, CampaignState.ACTIVE, None)


def cancel(engine: Engine, name: str) -> int:
    """Closes the campaign for good: every message not yet sent is cancelled. Returns how many."""
    _set_state(engine, name, CampaignState.CANCELLED, "cancelled by hand")
    with engine.begin() as conn:
        return conn.execute(
            _M.update()
            .where(_M.c.campaign == name, _M.c.status.in_(PENDING))
            .values(status=MessageStatus.CANCELLED.value, last_error="campaign cancelled", updated_at=utcnow())
        ).rowcount


def stop_candidate(engine: Engine, candidate_id: str) -> int:
    """Cancels everything pending for one person, in every campaign. Returns how many."""
    with engine.begin() as conn:
        if conn.execute(sa.select(Candidate.candidate_id).where(Candidate.candidate_id == candidate_id)).first() is None:
            raise UnknownName(f"no candidate with id {candidate_id!r} in the ledger")
        return conn.execute(
            _M.update()
            .where(_M.c.candidate_id == candidate_id, _M.c.status.in_(PENDING))
            .values(status=MessageStatus.CANCELLED.value, last_error="stopped by hand", updated_at=utcnow())
        ).rowcount


def retry_failed(engine: Engine, campaign: str | None = None) -> tuple[int, int]:
    """Failed messages go back in the queue: those that never rendered to `planned` (a fixed
    template renders them), the rest to `rendered` with their attempts reset. A cancelled
    campaign's messages stay failed. Returns (to render, to send)."""
    failed = [
        _M.c.status == MessageStatus.FAILED.value,
        _M.c.campaign.not_in(_campaigns_in(CampaignState.CANCELLED)),
    ]
    if campaign is not None:
        failed.append(_M.c.campaign == campaign)
    common = {"attempts": 0, "next_attempt_at": None, "last_error": None, "updated_at": utcnow()}
    with engine.begin() as conn:
        render = conn.execute(
            _M.update().where(*failed, _M.c.template.is_(None)).values(status=MessageStatus.PLANNED.value, **common)
        ).rowcount
        send = conn.execute(
            _M.update().where(*failed, _M.c.template.is_not(None)).values(status=MessageStatus.RENDERED.value, **common)
        ).rowcount
    return render, send



def status_counts(engine: Engine, campaign: str | None = None) -> dict[str, int]:
    """How many messages are in each status (of `campaign`, or all)."""
    query = sa.select(_M.c.status, sa.func.count()).group_by(_M.c.status)
    if campaign is not None:
        query = query.where(_M.c.campaign == campaign)
    with engine.connect() as conn:
        return {_plain(status): n for status, n in conn.execute(query)}


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


def campaigns_with_due(engine: Engine, business_now: datetime) -> list[str]:
    """Open campaigns holding messages to render or send at `business_now`, by name."""
    due = sa.or_(_M.c.scheduled_for.is_(None), _M.c.scheduled_for <= business_now.astimezone(timezone.utc))
    closed = _campaigns_in(CampaignState.PAUSED, CampaignState.CANCELLED)
    query = (
        sa.select(_M.c.campaign)
        .where(_M.c.status.in_(PENDING), due, _M.c.campaign.not_in(closed))
        .distinct()
        .order_by(_M.c.campaign)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _campaigns_in(*states: CampaignState) -> sa.Select:
    return sa.select(_K.c.name).where(_K.c.state.in_([state.value for state in states]))


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


def call_sheet_rows(engine: Engine, campaign: str) -> list[dict]:
    """The call-sheet rows of the campaign's voicemails written so far, by time to call."""
    query = sa.select(_M.c.call_sheet).where(
        _M.c.campaign == campaign, _M.c.channel == "voicemail", _M.c.status == MessageStatus.SENT.value
    )
    with engine.connect() as conn:
        rows = [row for row in conn.execute(query).scalars() if row]
    return sorted(rows, key=lambda row: row.get("local_time_to_call", ""))
