"""Replies' SQL: the message a reply answers, storing a reply once with its response, and the
forward to the recruiter, claimed and settled like any message (DESIGN.md, the ledger).

A reply and what it causes (its response, for an opt-out the suppression) are stored in one
transaction, before Inbound Parse gets its 2xx; the reply's dedupe_key makes a post that comes
again (after a 5xx) a no-op, so it is recorded, and forwarded, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.channels import CHANNELS
from followup.models import Candidate, Decision, ForwardStatus, Message, Reply, Response, Suppression, utcnow
from followup.store.dialect import aware
from followup.store.owners import Owner, owner_is_alive
from followup.store.recovery import STALE_CLAIM

_MAIL_CHANNELS = sorted(name for name, channel in CHANNELS.items() if channel.by_mail)


class Answered(NamedTuple):
    """The message a reply answers, and who to forward the reply to."""

    message_key: str
    candidate_id: str
    channel: str
    email: str  # the candidate's address on file
    sent_at: datetime | None
    recruiter_email: str | None
    subject: str | None


class NewReply(NamedTuple):
    dedupe_key: str
    message_id_header: str | None
    answered: Answered | None
    matched_by: str | None
    from_email: str
    from_name: str | None
    to_email: str | None
    subject: str
    text_body: str
    html_body: str | None
    headers: dict[str, str]
    attachments: int
    outcome: str
    reasons: list[str]
    language: str | None
    note: str  # the response's note: the reasons, and an out-of-office return date in ISO form
    received_at: datetime  # its Date (business time)
    forward_to: str | None


class Forward(NamedTuple):
    id: int
    forward_to: str
    candidate_id: str | None
    from_email: str
    from_name: str | None
    subject: str | None
    text_body: str | None
    html_body: str | None
    attachments: int
    outcome: str
    reasons: list | None
    answered_subject: str | None
    attempts: int


def _answered(conn: sa.Connection, where: sa.ColumnElement[bool]) -> Answered | None:
    query = (
        sa.select(Message.message_key, Message.candidate_id, Message.channel, Candidate.email, Message.sent_at,
                  Decision.recruiter_email, Message.subject)
        .select_from(sa.join(Message, Candidate, Candidate.candidate_id == Message.candidate_id)
                     .outerjoin(Decision, Decision.id == Message.decision_id))
        .where(where, Message.channel.in_(_MAIL_CHANNELS))
        .order_by(Message.sent_at.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return Answered(*row[:4], aware(row[4]), *row[5:]) if row else None


def message_by_id(engine: Engine, message_id: int) -> Answered | None:
    """The mail message of ledger row `message_id` (a reply address or Message-ID names it)."""
    with engine.connect() as conn:
        return _answered(conn, Message.id == message_id)


def latest_mail_to(engine: Engine, address: str) -> Answered | None:
    """The mail message last sent to `address` (any spelling of its case), or None."""
    with engine.connect() as conn:
        people = sa.select(Candidate.candidate_id).where(sa.func.lower(Candidate.email) == address.lower())
        return _answered(conn, sa.and_(Message.candidate_id.in_(people), Message.sent_at.is_not(None)))


def store_reply(engine: Engine, reply: NewReply, response_key: str, suppress: list[str]) -> int | None:
    """Store the reply and, when it matched a message, its response (and the addresses in
    `suppress` as opted out), in one transaction. Returns the new reply's id, or None when a
    reply with its dedupe_key is stored already (then nothing is written)."""
    answered = reply.answered
    status = ForwardStatus.PENDING if reply.forward_to else ForwardStatus.NONE
    now = utcnow()
    with engine.begin() as conn:
        if conn.execute(sa.select(Reply.id).where(Reply.dedupe_key == reply.dedupe_key)).first():
            return None
        try:
            with conn.begin_nested():  # a concurrent post of the same reply got there first
                reply_id = conn.execute(sa.insert(Reply).values(
                    dedupe_key=reply.dedupe_key, message_id_header=reply.message_id_header,
                    candidate_id=answered.candidate_id if answered else None,
                    message_key=answered.message_key if answered else None, matched_by=reply.matched_by,
                    from_email=reply.from_email, from_name=reply.from_name, to_email=reply.to_email,
                    subject=reply.subject, text_body=reply.text_body, html_body=reply.html_body,
                    headers=reply.headers, attachments=reply.attachments, outcome=reply.outcome,
                    reasons=reply.reasons, language=reply.language, received_at=reply.received_at, stored_at=now,
                    forward_to=reply.forward_to, forward_status=status.value, forward_attempts=0,
                ).returning(Reply.id)).scalar_one()  # fmt: skip
        except sa.exc.IntegrityError:
            return None
        if answered is not None:
            conn.execute(sa.insert(Response).values(
                candidate_id=answered.candidate_id, message_key=answered.message_key, channel=answered.channel,
                outcome=reply.outcome, body=reply.text_body, received_at=reply.received_at,
                source=f"inbound:{reply_id}", note=reply.note, dedupe_key=response_key,
            ))  # fmt: skip
        for address in dict.fromkeys(suppress):
            # An existing row under either spelling counts: the send stage looks up both (suppress_address).
            spellings = sorted({address, address.lower()})
            if not conn.execute(sa.select(Suppression.email).where(Suppression.email.in_(spellings))).first():
                conn.execute(sa.insert(Suppression).values(
                    email=address, reason="opt_out", source=f"inbound:{reply_id}", created_at=now))
    return reply_id


def claim_forwards(engine: Engine, owner: Owner, limit: int = 100) -> list[Forward]:
    """Take up to `limit` forwards that are due (pending, or waiting for a retry whose time has
    come on the real clock) for `owner`: no other sweep can take them until they are settled."""
    now = utcnow()
    due = (
        sa.select(Reply.id)
        .where(Reply.forward_status.in_([ForwardStatus.PENDING.value, ForwardStatus.RETRY_WAIT.value]),
               sa.or_(Reply.forward_next_at.is_(None), Reply.forward_next_at <= now))
        .order_by(Reply.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite takes the whole database's write lock
    )  # fmt: skip
    answered = sa.select(Message.subject).where(Message.message_key == Reply.message_key).scalar_subquery()
    with engine.begin() as conn:
        ids = [row_id for (row_id,) in conn.execute(due)]
        if not ids:
            return []
        conn.execute(sa.update(Reply).where(Reply.id.in_(ids)).values(
            forward_status=ForwardStatus.SENDING.value, forward_claimed_by=str(owner), forward_claimed_at=now,
            forward_attempts=Reply.forward_attempts + 1))  # fmt: skip
        rows = conn.execute(
            sa.select(Reply.id, Reply.forward_to, Reply.candidate_id, Reply.from_email, Reply.from_name,
                      Reply.subject, Reply.text_body, Reply.html_body, Reply.attachments, Reply.outcome,
                      Reply.reasons, answered, Reply.forward_attempts)
            .where(Reply.id.in_(ids)).order_by(Reply.id)
        )  # fmt: skip
        return [Forward(*row) for row in rows]


def settle_forward(
    engine: Engine,
    reply_id: int,
    owner: Owner,
    status: ForwardStatus,
    *,
    provider_id: str | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record what became of a claimed forward; False when `owner` no longer holds the claim."""
    values: dict = {"forward_status": status.value, "forward_claimed_by": None, "forward_error": error,
                    "forward_next_at": retry_at}  # fmt: skip
    if status is ForwardStatus.SENT:
        values.update(forwarded_at=utcnow(), forward_provider_id=provider_id)
    with engine.begin() as conn:
        done = conn.execute(sa.update(Reply).where(
            Reply.id == reply_id, Reply.forward_status == ForwardStatus.SENDING.value,
            Reply.forward_claimed_by == str(owner)).values(**values))  # fmt: skip
        return done.rowcount == 1


def unknown_dead_forwards(engine: Engine) -> int:
    """Forwards left in `sending` by a sweep that died: the recruiter may or may not have the
    mail, so they become unknown (and are never resent blindly), as messages do."""
    stale_before = utcnow() - STALE_CLAIM
    with engine.begin() as conn:
        claimed = conn.execute(sa.select(Reply.id, Reply.forward_claimed_by, Reply.forward_claimed_at).where(
            Reply.forward_status == ForwardStatus.SENDING.value)).all()  # fmt: skip
        dead = [row_id for row_id, by, at in claimed
                if not owner_is_alive(by or "") or (aware(at) or stale_before) < stale_before]  # fmt: skip
        if not dead:
            return 0
        conn.execute(sa.update(Reply).where(Reply.id.in_(dead), Reply.forward_status == ForwardStatus.SENDING.value)
                     .values(forward_status=ForwardStatus.UNKNOWN.value, forward_claimed_by=None,
                             forward_error="the sweep sending it stopped before the provider answered"))  # fmt: skip
        return len(dead)
