"""Reading candidates and their decisions back out of the ledger."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Batch, Candidate, Decision, Message


def candidate_with_decision(engine: Engine, candidate_id: str) -> tuple[dict, dict] | None:
    """The candidate and their most recently imported decision, or None when unknown."""
    with engine.connect() as conn:
        candidate = conn.execute(sa.select(Candidate.__table__).where(Candidate.candidate_id == candidate_id)).first()
        if candidate is None:
            return None
        decision = conn.execute(
            sa.select(Decision.__table__)
            .join(Batch, Batch.id == Decision.batch_id)
            .where(Decision.candidate_id == candidate_id)
            .order_by(Batch.created_at.desc(), Decision.id.desc())
            .limit(1)
        ).first()
    return dict(candidate._mapping), (dict(decision._mapping) if decision else {})


def message_recipient(engine: Engine, message_key: str) -> tuple[str, dict | None] | None:
    """The address of the candidate a message was written to, and the extra headers it was
    rendered with; None for an unknown key."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(Candidate.email, Message.headers)
            .join(Message, Message.candidate_id == Candidate.candidate_id)
            .where(Message.message_key == message_key)
        ).first()
    return None if row is None else (row.email, row.headers)
