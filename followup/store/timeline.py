"""What the ledger knows about one candidate, for `followup timeline`: the person, their decisions,
every message planned for them, their responses, their stop, the suppressions of their address
and which of their campaigns are paused or cancelled.

Read in one connection, so the facts belong together; turning them into a timeline is
followup.stages.timeline's. Every datetime comes back aware, in UTC.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Batch, Campaign, CampaignState, Candidate, CandidateStop, Decision, Message, Response, Suppression
from followup.store.dialect import aware

_C = Candidate.__table__
_D = Decision.__table__
_M = Message.__table__
_R = Response.__table__
_S = Suppression.__table__
_T = CandidateStop.__table__
_K = Campaign.__table__

_CANDIDATE = ("candidate_id", "first_name", "last_name", "timezone", "country", "channel")
_DECISION = ("id", "role", "decision", "decided_at", "offer_deadline")
_MESSAGE = (
    "id", "message_key", "campaign", "decision_id", "cadence", "kind", "step", "channel", "variant", "status",
    "scheduled_for", "window_closes", "sent_at", "attempts", "next_attempt_at", "last_error", "plan_note",
    "experiment_arm", "experiment_delay_days", "experiment_hour", "claimed_at", "created_at", "updated_at",
)  # fmt: skip
_RESPONSE = ("message_key", "channel", "outcome", "received_at", "source", "note")
_STOP = ("reason", "source", "stopped_at")
_SUPPRESSION = ("reason", "source", "created_at")


class CandidateFacts(NamedTuple):
    """One candidate's rows, each a dict of the columns named above."""

    candidate: dict
    decisions: list[dict]  # in the order their batches were imported
    messages: list[dict]  # oldest first (planned first)
    responses: list[dict]  # oldest first
    stop: dict | None
    suppressions: list[dict]  # of the address under either spelling, oldest first
    halted: dict[str, dict]  # their campaigns that are paused or cancelled: name -> state, reason


def _plain(value: object) -> object:
    """SQLite hands datetimes back naive, made aware here once; a status is its stored string."""
    if isinstance(value, datetime):
        return aware(value)
    return value.value if isinstance(value, enum.Enum) else value


def _rows(conn: sa.Connection, query: sa.Select) -> list[dict]:
    return [{name: _plain(value) for name, value in row.items()} for row in conn.execute(query).mappings()]


def candidate_facts(engine: Engine, candidate_id: str) -> CandidateFacts | None:
    """Everything the ledger holds about `candidate_id` that explains their cadence; None when unknown."""
    with engine.connect() as conn:
        found = _rows(conn, sa.select(*(_C.c[n] for n in _CANDIDATE)).where(_C.c.candidate_id == candidate_id))
        if not found:
            return None
        decisions = _rows(conn, sa.select(*(_D.c[n] for n in _DECISION))
                          .join(Batch, Batch.id == _D.c.batch_id)
                          .where(_D.c.candidate_id == candidate_id)
                          .order_by(Batch.created_at, _D.c.id))  # fmt: skip
        messages = _rows(conn, sa.select(*(_M.c[n] for n in _MESSAGE))
                         .where(_M.c.candidate_id == candidate_id)
                         .order_by(_M.c.created_at, _M.c.id))  # fmt: skip
        responses = _rows(conn, sa.select(*(_R.c[n] for n in _RESPONSE))
                          .where(_R.c.candidate_id == candidate_id)
                          .order_by(_R.c.received_at, _R.c.id))  # fmt: skip
        stop = _rows(conn, sa.select(*(_T.c[n] for n in _STOP)).where(_T.c.candidate_id == candidate_id))
        # The same lookup as the claim's (store.sending._suppression): SendGrid reports addresses
        # lower-cased, people type them as the candidate's, and both spellings stop a send.
        suppressions = _rows(conn, sa.select(*(_S.c[n] for n in _SUPPRESSION))
                             .select_from(_C.join(_S, _S.c.email.in_([_C.c.email, sa.func.lower(_C.c.email)])))
                             .where(_C.c.candidate_id == candidate_id)
                             .order_by(_S.c.created_at, _S.c.email))  # fmt: skip
        halted = _rows(conn, sa.select(_K.c.name, _K.c.state, _K.c.reason)
                       .where(_K.c.name.in_(sa.select(_M.c.campaign).where(_M.c.candidate_id == candidate_id)),
                              _K.c.state != CampaignState.ACTIVE.value))  # fmt: skip
    return CandidateFacts(found[0], decisions, messages, responses, stop[0] if stop else None, suppressions,
                          {row.pop("name"): row for row in halted})
