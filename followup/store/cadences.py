"""The planner's SQL: the facts of many cadences read in a few bulk queries, and the rows a
changed decision leaves behind.

A cadence is a decision's messages with one `cadence` value ("offer:email"). The decision's
current cadence is its decision and its candidate's channel now; messages of an older value
belong to a cadence the decision no longer has (an offer withdrawn, another channel).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.cadence.planner import Answer, CadenceFacts, Sent
from followup.models import Candidate, CandidateChange, CandidateStop, Decision, Message, MessageStatus, Response, Suppression, utcnow
from followup.store.dialect import DriverSql, chunks, raw_time, read_time
from followup.store.suppressions import ADDRESS_ONLY

_M, _C, _D = Message.__table__, Candidate.__table__, Decision.__table__
_R, _S, _T = Response.__table__, Suppression.__table__, CandidateStop.__table__
# What a message cancelled by a changed decision says: "decision changed: offer:email -> reject:email".
CHANGED = "decision changed:"
# A message's rendering, undone so that it is rendered again from the candidate's current facts.
_UNRENDERED = dict(subject=None, text_body=None, html_body=None, headers=None, attachments=None, call_sheet=None,
                   template=None, next_attempt_at=None)  # fmt: skip
# Rows fetched at a time: in bulk (a fetch a row costs more than the row), never all at once.
_ROWS_AT_ONCE = 10_000
# The messages joined to the facts, apart from `messages` in the callers' EXISTS tests.
_JM = _M.alias("cadence_messages")
# Waiting to go: a cadence with one of these has its next step on the way already.
PENDING = (
    MessageStatus.PLANNED.value,
    MessageStatus.RENDERED.value,
    MessageStatus.RETRY_WAIT.value,
)
_FACT_COLUMNS = (
    _D.c.id, _D.c.candidate_id, _D.c.decision, _C.c.channel, _C.c.timezone, _C.c.country,
    _C.c.phone.is_not(None), _D.c.recruiter_timezone, raw_time(_D.c.decided_at), raw_time(_D.c.offer_deadline),
    _T.c.reason, _D.c.meeting_location.is_not(None), _D.c.recruiter_phone.is_not(None), _C.c.email,
    _JM.c.step, _JM.c.kind, _JM.c.channel, _JM.c.status, raw_time(_JM.c.sent_at), _JM.c.last_error, _JM.c.campaign,
    raw_time(_D.c.meeting_at),
)  # fmt: skip


def current_cadence(decision: sa.ColumnElement, channel: sa.ColumnElement) -> sa.ColumnElement[str]:
    return decision + sa.literal(":") + channel


def _facts(engine: Engine, where: sa.ColumnElement[bool]) -> dict[int, CadenceFacts]:
    """Every decision matching `where` (over decisions and candidates), with its messages of its
    current cadence, its candidate's answers, suppression and stop.

    One query brings each decision with its messages (a row per message, a decision without any
    on a row of its own): a sweep reads every open cadence, and a second read of the messages by
    id cost more than the join."""
    mine = sa.and_(_JM.c.decision_id == _D.c.id, _JM.c.cadence == current_cadence(_D.c.decision, _C.c.channel))
    query = (
        sa.select(*_FACT_COLUMNS)
        .select_from(
            _D.join(_C, _C.c.candidate_id == _D.c.candidate_id)
            .outerjoin(_T, _T.c.candidate_id == _D.c.candidate_id)
            .outerjoin(_JM, mine)
        )
        .where(where)
        .order_by(_D.c.id, _JM.c.step, _JM.c.id)
    )
    facts: dict[int, CadenceFacts] = {}
    emails: dict[str, list[CadenceFacts]] = defaultdict(list)
    by_candidate: dict[str, list[CadenceFacts]] = defaultdict(list)
    fact = None
    with engine.connect() as conn:
        for row in (row for part in conn.execute(query).partitions(_ROWS_AT_ONCE) for row in part):
            if fact is None or fact.decision_id != row[0]:
                fact = CadenceFacts(
                    row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7], read_time(row[8]),
                    read_time(row[9]), bool(row[11]), bool(row[12]), row[20], stopped=row[10],
                    meeting_at=read_time(row[21]),
                )  # fmt: skip
                facts[fact.decision_id] = fact
                emails[row[13]].append(fact)
                by_candidate[fact.candidate_id].append(fact)
            if row[14] is not None:  # a message of the cadence (the outer join's NULLs: none yet)
                fact.messages.append(Sent(row[14], row[15], row[16], row[17], read_time(row[18]), row[19]))
        # The answers and suppressions of many candidates, a chunk of keys at a time, through the
        # driver as plain tuples: SQLAlchemy's compiling of long IN lists and its per-row
        # processing cost more than the database's own work here.
        driver = DriverSql.of(conn.dialect)
        for chunk in chunks(sorted(by_candidate)):
            mine, values = driver.one_of("candidate_id", chunk)
            answers = conn.exec_driver_sql(
                f"SELECT candidate_id, outcome, received_at, channel, note FROM responses WHERE {mine}"
                " ORDER BY received_at, id", values,
            )  # fmt: skip
            for candidate_id, outcome, at, channel, note in answers:
                answer = Answer(outcome, read_time(at), channel, note)
                for each in by_candidate[candidate_id]:
                    each.answers.append(answer)
        addresses = sorted({*emails, *(e.lower() for e in emails)})
        for chunk in chunks(addresses):
            theirs, values = driver.one_of("email", chunk)
            found = conn.exec_driver_sql(f"SELECT email, reason FROM suppressions WHERE {theirs}", values)
            for email, reason in found:
                blocked = "email" if reason in ADDRESS_ONLY else "all"
                for each in emails.get(email, []) + (emails.get(email.lower(), []) if email != email.lower() else []):
                    each.blocked = "all" if "all" in (each.blocked, blocked) else blocked
    return facts


def brought_by(batch_id: str) -> sa.ColumnElement[bool]:
    """The decisions a batch brought, over decisions: those it stored or changed, and, for a
    candidate whose channel alone it changed, their latest decision. An unchanged decision row
    keeps the id of the batch that last changed it, and the channel is the candidate's: without
    this a re-export moving someone from email to a call would leave their email cadence going."""
    moved = sa.select(CandidateChange.candidate_id).where(
        CandidateChange.batch_id == batch_id, CandidateChange.field == "channel"
    )
    other = _D.alias("other")
    latest = sa.select(sa.func.max(other.c.id)).where(other.c.candidate_id == _D.c.candidate_id).scalar_subquery()
    return sa.or_(_D.c.batch_id == batch_id, sa.and_(_D.c.candidate_id.in_(moved), _D.c.id == latest))


def batch_facts(engine: Engine, batch_id: str) -> list[CadenceFacts]:
    """The decisions a batch stored, in its order."""
    return list(_facts(engine, brought_by(batch_id)).values())


def candidate_facts(engine: Engine, candidate_id: str) -> list[CadenceFacts]:
    """Every decision of one candidate, oldest first."""
    return list(_facts(engine, _D.c.candidate_id == candidate_id).values())


def other_decisions(engine: Engine, batch_id: str) -> list[CadenceFacts]:
    """The decisions of the batch's candidates that the batch did not bring (another role)."""
    in_batch = sa.select(_D.c.candidate_id).where(_D.c.batch_id == batch_id)
    return list(_facts(engine, sa.and_(_D.c.candidate_id.in_(in_batch), _D.c.batch_id != batch_id)).values())


def open_cadences(engine: Engine, last_steps: dict[str, int]) -> list[CadenceFacts]:
    """Cadences that may have a next step: the decision's current cadence has begun, nothing of
    it waits to go or was cancelled, it has not reached its last step (`last_steps`: cadence key
    -> that step), and no later decision of the same candidate has a cadence (one person, one
    conversation)."""
    key = current_cadence(_D.c.decision, _C.c.channel)
    mine = sa.and_(_M.c.decision_id == _D.c.id, _M.c.cadence == key)
    later = _D.alias("later")
    later_m = _M.alias("later_m")
    last = sa.case(last_steps, value=key, else_=max(last_steps.values()))
    done = sa.or_(_M.c.status.in_((*PENDING, MessageStatus.CANCELLED.value)), _M.c.step >= last)
    where = sa.and_(
        _JM.c.id.is_not(None),  # begun: the facts' join found a message of the cadence
        ~sa.exists(sa.select(_M.c.id).where(mine, done)),
        ~sa.exists(
            sa.select(later.c.id)
            .join(later_m, later_m.c.decision_id == later.c.id)
            .where(later.c.candidate_id == _D.c.candidate_id, later.c.id > _D.c.id)
        ),
    )
    return list(_facts(engine, where).values())


class Superseded(NamedTuple):
    """A decision whose cadence changed: what it had, what it has now, and what of the old went."""

    decision_id: int
    candidate_id: str
    old: str  # "offer:email"
    new: str
    sent: int  # messages of the old cadence that went out already
    pending: int  # ... that had not: cancelled


def _stale(key: sa.ColumnElement) -> sa.ColumnElement[bool]:
    return sa.or_(_M.c.cadence.is_(None), _M.c.cadence != key)


def _message_decisions_cadence() -> sa.ScalarSelect:
    """For an UPDATE of messages: the current cadence of each message's decision."""
    return (
        sa.select(current_cadence(_D.c.decision, _C.c.channel))
        .select_from(_D.join(_C, _C.c.candidate_id == _D.c.candidate_id))
        .where(_D.c.id == _M.c.decision_id)
        .scalar_subquery()
    )


def superseded(engine: Engine, batch_id: str) -> list[Superseded]:
    """The batch's decisions holding messages of another cadence than their current one, with
    the pending ones cancelled ("decision changed: offer:email -> reject:email")."""
    key = current_cadence(_D.c.decision, _C.c.channel)
    joined = _M.join(_D, _D.c.id == _M.c.decision_id).join(_C, _C.c.candidate_id == _D.c.candidate_id)
    old = sa.func.coalesce(_M.c.cadence, sa.literal("?"))
    counts = (
        sa.select(
            _D.c.id,
            _D.c.candidate_id,
            old,
            key,
            sa.func.count(_M.c.sent_at),
            sa.func.sum(sa.case((_M.c.status.in_(PENDING), 1), else_=0)),
        )  # fmt: skip
        .select_from(joined)
        .where(brought_by(batch_id), _stale(key))
        .group_by(_D.c.id, _D.c.candidate_id, old, key)
    )
    mine = sa.select(_D.c.id).where(brought_by(batch_id))
    now_key = _message_decisions_cadence()
    with engine.begin() as conn:
        found = [Superseded(*row[:4], int(row[4] or 0), int(row[5] or 0)) for row in conn.execute(counts)]
        if any(s.pending for s in found):
            conn.execute(
                _M.update()
                .where(_M.c.decision_id.in_(mine), _M.c.status.in_(PENDING), _stale(now_key))
                .values(status=MessageStatus.CANCELLED.value, updated_at=utcnow(),
                        last_error=sa.literal(f"{CHANGED} ") + old + sa.literal(" -> ") + now_key)
            )  # fmt: skip
    return found


def revive_returned(engine: Engine, batch_id: str) -> set[int]:
    """The batch's decisions that came back to a cadence they had left (an offer turned rejection
    turned offer again): what that cadence had pending when the decision changed, cancelled then,
    waits to go again, to be rendered afresh (its window, if it passed, moves on at the claim).
    Returns the decisions' ids. Without this the returned decision would meet its old cadence,
    begun and cancelled, and nothing more would ever be planned for it."""
    mine = sa.select(_D.c.id).where(brought_by(batch_id))
    now_key = _message_decisions_cadence()
    with engine.begin() as conn:
        revived = conn.execute(
            _M.update()
            .where(_M.c.decision_id.in_(mine), _M.c.status == MessageStatus.CANCELLED.value,
                   _M.c.last_error.like(f"{CHANGED} % -> %"), _M.c.cadence == now_key)
            .values(status=MessageStatus.PLANNED.value, last_error=None, updated_at=utcnow(), **_UNRENDERED)
            .returning(_M.c.decision_id)
        ).scalars()  # fmt: skip
        return set(revived)


def cancel_pending(engine: Engine, decision_ids: Sequence[int], reason: str) -> int:
    """Every pending message of these decisions becomes cancelled with `reason`."""
    cancelled = 0
    with engine.begin() as conn:
        for chunk in chunks(list(decision_ids)):
            cancelled += conn.execute(
                _M.update()
                .where(_M.c.decision_id.in_(chunk), _M.c.status.in_(PENDING))
                .values(
                    status=MessageStatus.CANCELLED.value,
                    last_error=reason,
                    updated_at=utcnow(),
                )
            ).rowcount
    return cancelled


def rerender_changed(engine: Engine, batch_id: str) -> int:
    """Rendered messages not yet sent, to candidates the batch changed something about, go back to
    be rendered again: their text was written from the old values. Returns how many."""
    changed = sa.select(CandidateChange.candidate_id).where(CandidateChange.batch_id == batch_id)
    waiting = (MessageStatus.RENDERED.value, MessageStatus.RETRY_WAIT.value)
    with engine.begin() as conn:
        return conn.execute(
            _M.update()
            .where(_M.c.candidate_id.in_(changed), _M.c.status.in_(waiting))
            .values(status=MessageStatus.PLANNED.value, updated_at=utcnow(), **_UNRENDERED)
        ).rowcount
