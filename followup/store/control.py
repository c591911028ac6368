"""A recruiter's hands on the ledger: pause, resume or cancel a campaign, stop one person, and
queue failed messages again; and which open campaigns the sweep has work in."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Campaign, CampaignState, Candidate, CandidateStop, Message, MessageStatus, utcnow
from followup.store import stops
from followup.store.dialect import DriverSql

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


def stop_candidate(engine: Engine, candidate_id: str, reason: str = stops.DEFAULT_REASON, source: str = "cli") -> int:
    """Records the stop, which lasts: nothing is planned for the person or sent to them until
    undo_stop. Cancels everything pending for them, in every campaign. Returns how many.
    Stopping a stopped person again replaces the reason."""
    with engine.begin() as conn:
        if conn.execute(sa.select(Candidate.candidate_id).where(Candidate.candidate_id == candidate_id)).first() is None:
            raise UnknownName(f"no candidate with id {candidate_id!r} in the ledger")
        sql = DriverSql.of(conn.dialect)
        # An upsert: two people stopping the same candidate at once both succeed.
        conn.exec_driver_sql(
            f"INSERT INTO candidate_stops (candidate_id, reason, source, stopped_at) VALUES ({sql.marks(4)})"
            " ON CONFLICT (candidate_id) DO UPDATE"
            " SET reason = excluded.reason, source = excluded.source, stopped_at = excluded.stopped_at",
            (candidate_id, reason, source, sql.time(utcnow())),
        )
        return conn.execute(
            _M.update()
            .where(_M.c.candidate_id == candidate_id, _M.c.status.in_(PENDING))
            .values(status=MessageStatus.CANCELLED.value, last_error=stops.cancel_reason(_M.c.candidate_id),
                    updated_at=utcnow())  # fmt: skip
        ).rowcount


def undo_stop(engine: Engine, candidate_id: str) -> str:
    """Removes the stop, so later runs plan the person again; what the stop cancelled stays
    cancelled. Returns the reason the stop had."""
    table = CandidateStop.__table__
    with engine.begin() as conn:
        reason = conn.execute(sa.select(table.c.reason).where(table.c.candidate_id == candidate_id)).scalar()
        if reason is None:
            raise UnknownName(f"{candidate_id!r} is not stopped; there is no stop to undo")
        conn.execute(table.delete().where(table.c.candidate_id == candidate_id))
    return reason


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


def campaigns_with_due(engine: Engine, business_now: datetime) -> list[str]:
    """Open campaigns holding messages to render or send at `business_now`, by name.

    The sweep's question, asked here beside the controls rather than among the reports: what
    counts as an open campaign and a pending message is what pause, resume and cancel write
    (the campaign states, PENDING), and the answer drives work rather than describing it.
    """
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
