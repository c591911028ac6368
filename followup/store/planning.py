"""Planning: the first message of a campaign for every decision of a batch, as ledger rows.

Every message exists in `messages` (status planned) before anything renders or sends it; its
message_key is derived from what makes it unique, so planning the same batch into the same
campaign twice adds nothing (INSERT ... ON CONFLICT DO NOTHING on the unique key).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Campaign, CampaignState, Candidate, Decision, MessageStatus, utcnow
from followup.store.dialect import DriverSql

# The first message a decision gets; follow-up steps are planned by the sweep's cadence.
FIRST_KIND = {"offer": "offer", "reject": "rejection"}
_INSERT_CHUNK = 10_000


def message_key(campaign: str, candidate_id: str, kind: str, step: int, channel: str) -> str:
    """Opaque and stable: it travels to SendGrid as custom_args.message_key, so no personal data."""
    raw = "\x1f".join((campaign, candidate_id, kind, str(step), channel))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PlanResult:
    planned: int  # new rows
    already: int  # rows that existed from an earlier run of the same campaign


class CampaignClosed(Exception):
    """The campaign was cancelled: nothing more is planned or sent for it."""


def ensure_campaign(engine: Engine, name: str) -> CampaignState:
    """The campaign's state, creating it active on first use."""
    table = Campaign.__table__
    with engine.begin() as conn:
        state = conn.execute(sa.select(table.c.state).where(table.c.name == name)).scalar()
        if state is None:
            conn.execute(table.insert().values(name=name, state=CampaignState.ACTIVE.value, updated_at=utcnow()))
            return CampaignState.ACTIVE
    return CampaignState(state)


def plan_batch(engine: Engine, campaign: str, batch_id: str, business_now: datetime) -> PlanResult:
    """Plan the first message (offer or rejection, on the candidate's channel) for every
    decision the batch stored, due at `business_now`."""
    if ensure_campaign(engine, campaign) is CampaignState.CANCELLED:
        raise CampaignClosed(f"campaign {campaign!r} was cancelled; plan under another --campaign name")
    decisions = (
        sa.select(Decision.id, Decision.candidate_id, Decision.decision, Candidate.channel)
        .join(Candidate, Candidate.candidate_id == Decision.candidate_id)
        .where(Decision.batch_id == batch_id)
        .order_by(Decision.id)
    )
    due = business_now.astimezone(timezone.utc)
    now = utcnow()
    planned = 0
    with engine.begin() as conn:
        driver = DriverSql.of(conn.dialect)
        when = driver.time(due)
        created = driver.time(now)
        sql = (
            "INSERT INTO messages (message_key, campaign, candidate_id, decision_id, kind, step, channel,"
            " status, scheduled_for, attempts, created_at, updated_at)"
            f" VALUES ({driver.marks(12)}) ON CONFLICT (message_key) DO NOTHING"
        )
        found = conn.execute(decisions).all()
        total = len(found)
        for start in range(0, total, _INSERT_CHUNK):
            # Message rows a chunk at a time: a million decisions never become a million tuples.
            rows = []
            for decision_id, candidate_id, decision, channel in found[start : start + _INSERT_CHUNK]:
                kind = FIRST_KIND[decision]
                rows.append((message_key(campaign, candidate_id, kind, 0, channel), campaign, candidate_id,
                             decision_id, kind, 0, channel, MessageStatus.PLANNED.value, when, 0, created, created))  # fmt: skip
            planned += conn.exec_driver_sql(sql, rows).rowcount
    return PlanResult(planned=planned, already=total - planned)
