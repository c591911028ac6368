"""The stop rules the claim checks, as SQL: what the candidate said and which of their channels
still work (DESIGN.md, outcome vocabulary).

- A response (models.RESPONSES) received at or after the cadence's first message went out
  (messages.cadence_started_at) stops every later step, on every channel. A first message has no
  cadence_started_at: a reply to last year's rejection does not stop this year's offer.
- opt_out stops all contact, whenever it was said, as an unsubscribe does.
- wrong_number since the cadence began stops the steps a recruiter phones (call-sheet channels).
- A hard bounce is a suppression that stops the channels delivered by email only: the address is
  bad, the person has not said no. Every other suppression (unsubscribe, spam report, the
  user's list) stops every channel.

The claim is plain SQL text (store.sending), the look-ahead and the passes before a claim are
SQLAlchemy: each rule is written here in both, side by side. Each is a probe on an indexed
column (responses.candidate_id, suppressions' key), correlated with the message row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.channels import delivered_by
from followup.models import RESPONSES, Candidate, Message, MessageStatus, Outcome, Response, Suppression, utcnow
from followup.store.dialect import as_utc, aware, chunks
from followup.store.suppressions import ADDRESS_ONLY

_M = Message.__table__
_R = Response.__table__
_C = Candidate.__table__
_S = Suppression.__table__

_STOPPING = tuple(sorted(outcome.value for outcome in RESPONSES))
_OPT_OUT = Outcome.OPT_OUT.value
_WRONG_NUMBER = Outcome.WRONG_NUMBER.value
_BY_EMAIL = delivered_by("email")
_BY_PHONE = delivered_by("call_sheet")
_CLAIMABLE = (MessageStatus.RENDERED.value, MessageStatus.RETRY_WAIT.value)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# --- as text, for the claim (`due` is the message row) ---

SUPPRESSION_APPLIES_SQL = f"(s.reason NOT IN ({_quoted(ADDRESS_ONLY)}) OR due.channel IN ({_quoted(_BY_EMAIL)}))"

ANSWERED_SQL = f"""EXISTS (
    SELECT 1 FROM responses AS r
    WHERE r.candidate_id = due.candidate_id
      AND (r.outcome = '{_OPT_OUT}'
           OR (r.received_at >= due.cadence_started_at
               AND (r.outcome IN ({_quoted(_STOPPING)})
                    OR (r.outcome = '{_WRONG_NUMBER}' AND due.channel IN ({_quoted(_BY_PHONE)}))))))"""


# --- as SQLAlchemy, for the look-ahead and the passes before a claim ---


def suppression_applies(reason: sa.ColumnElement, channel: sa.ColumnElement) -> sa.ColumnElement[bool]:
    """A suppression with `reason` holds back a message on `channel`."""
    return sa.or_(reason.not_in(ADDRESS_ONLY), channel.in_(_BY_EMAIL))


def _stops(msg: sa.FromClause) -> sa.ColumnElement[bool]:
    """The condition on a response row `_R` that it stops the message row `msg`."""
    since = _R.c.received_at >= msg.c.cadence_started_at
    return sa.or_(
        _R.c.outcome == _OPT_OUT,
        sa.and_(since, sa.or_(_R.c.outcome.in_(_STOPPING),
                              sa.and_(_R.c.outcome == _WRONG_NUMBER, msg.c.channel.in_(_BY_PHONE)))),
    )  # fmt: skip


def answered(msg: sa.FromClause) -> sa.Exists:
    """True when what the candidate said (or a wrong number) stops the message row `msg`."""
    return sa.exists(sa.select(_R.c.id).where(_R.c.candidate_id == msg.c.candidate_id, _stops(msg)).correlate(msg))


# --- the pass before claiming ---


def _reason(outcome: str, received_at: datetime, channel: str) -> str:
    at = f"{aware(received_at):%Y-%m-%d %H:%M}"
    if outcome == _WRONG_NUMBER:
        return f"stopped: wrong number {at}"
    return f"stopped: {outcome} {at} by {channel}"


def cancel_answered_due(engine: Engine, now: datetime, campaign: str | None = None) -> int:
    """Due rendered/retry_wait messages (of `campaign`, or all) that a response or a wrong number
    stops become `cancelled`, their last_error naming the first answer that stopped them
    ("stopped: replied 2026-11-18 14:02 by email", UTC). Returns how many."""
    conditions = [
        _M.c.status.in_(_CLAIMABLE),
        sa.or_(_M.c.scheduled_for.is_(None), _M.c.scheduled_for <= as_utc(now)),
    ]
    if campaign is not None:
        conditions.append(_M.c.campaign == campaign)
    query = (
        sa.select(_M.c.id, _R.c.outcome, _R.c.received_at, _R.c.channel)
        .select_from(_M.join(_R, sa.and_(_R.c.candidate_id == _M.c.candidate_id, _stops(_M))))
        .where(*conditions)
    )
    with engine.connect() as conn:
        found = conn.execute(query).all()
    # A response stops every channel, a wrong number only some: the response is the reason
    # when there are both; among several of a kind, the first.
    first: dict[int, tuple] = {}
    for message_id, outcome, received_at, channel in found:
        rank = (outcome == _WRONG_NUMBER, aware(received_at))
        if message_id not in first or rank < first[message_id][0]:
            first[message_id] = (rank, _reason(outcome, received_at, channel))
    rows = [{"id_": message_id, "reason": reason} for message_id, (_, reason) in first.items()]
    statement = (
        _M.update()
        .where(_M.c.id == sa.bindparam("id_"), sa.or_(*(_M.c.status == status for status in _CLAIMABLE)))
        .values(status=MessageStatus.CANCELLED.value, last_error=sa.bindparam("reason"), updated_at=utcnow())
    )
    cancelled = 0
    with engine.begin() as conn:
        for chunk in chunks(rows):
            cancelled += conn.execute(statement, list(chunk)).rowcount
    return cancelled
