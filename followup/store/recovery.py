"""After a crash or a lost answer: settling the claims of senders that died, and the messages
of unknown fate.

Nothing here ever resends on its own: a message that may have gone out is `unknown` until its
events show SendGrid took it (then `sent`) or a person decides it did not (`followup reconcile
--resend-unknown`). An offer sent twice is worse than an offer sent an hour late.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Event, Message, MessageStatus, utcnow
from followup.store.dialect import as_utc, aware, chunks
from followup.store.owners import Owner, owner_is_alive

_M = Message.__table__
_E = Event.__table__
# The events that show SendGrid took a message: it processed it, and the receiving server
# accepted, deferred or bounced it. Any of them settles a message of unknown fate as sent.
SETTLING_EVENTS = ("processed", "delivered", "deferred", "bounce")
# A claim by an owner on another host cannot be checked: after this long it is presumed dead.
# A send holds its claim for one request (the transport's timeout, seconds), so only a crashed
# or cut-off sender holds one for half an hour.
STALE_CLAIM = timedelta(minutes=30)


def recover_dead_claims(
    engine: Engine,
    is_alive: Callable[[str], bool] = owner_is_alive,
    *,
    stale_after: timedelta = STALE_CLAIM,
    real_now: datetime | None = None,
) -> dict:
    """Settle the `sending` rows of owners that died holding them. Never resends anything.

    A row whose message_key has any SendGrid event was accepted by SendGrid: `sent` (sent_at
    and provider_message_id from its first event). The others may or may not have gone out:
    `unknown`, for a person (followup reconcile). Owners on this host are checked exactly
    (is_alive); owners elsewhere are presumed dead once their claim is older than stale_after.
    Returns {"sent": n, "unknown": n, "alive": rows left to living owners}.
    """
    now = as_utc(real_now or utcnow())
    here = socket.gethostname()
    with engine.connect() as conn:
        claimed = conn.execute(
            sa.select(_M.c.id, _M.c.message_key, _M.c.claimed_by, _M.c.claimed_at)
            .where(_M.c.status == MessageStatus.SENDING.value)
        ).all()
    verdicts: dict[str | None, bool] = {}
    dead = []
    for row in claimed:
        owner = row.claimed_by
        if owner not in verdicts:
            verdicts[owner] = owner is not None and is_alive(owner)
        parsed = Owner.parse(owner) if owner else None
        checkable = parsed is not None and parsed.host == here
        stale = row.claimed_at is None or aware(row.claimed_at) < now - stale_after
        if not verdicts[owner] or (not checkable and stale):
            dead.append(row)
    accepted = _first_events(engine, [row.message_key for row in dead])
    sent, unknown = [], []
    for row in dead:
        guard = {"_id": row.id, "_owner": row.claimed_by}
        if row.message_key in accepted:
            provider_id, occurred_at = accepted[row.message_key]
            sent.append({**guard, "_provider_id": provider_id, "_sent_at": as_utc(occurred_at)})
        else:
            unknown.append(guard)
    still_claimed = sa.and_(
        _M.c.id == sa.bindparam("_id"),
        _M.c.status == MessageStatus.SENDING.value,
        _M.c.claimed_by.is_not_distinct_from(sa.bindparam("_owner", type_=_M.c.claimed_by.type)),
    )
    with engine.begin() as conn:
        if sent:
            conn.execute(
                _M.update().where(still_claimed).values(
                    status=MessageStatus.SENT.value,
                    provider_message_id=sa.bindparam("_provider_id"),
                    sent_at=sa.bindparam("_sent_at", type_=_M.c.sent_at.type),
                    last_error=None,
                    updated_at=now,
                ),
                sent,
            )  # fmt: skip
        if unknown:
            conn.execute(
                _M.update().where(still_claimed).values(
                    status=MessageStatus.UNKNOWN.value,
                    last_error=sa.literal("its sender (") + _M.c.claimed_by + sa.literal(
                        ") stopped before recording SendGrid's answer and no event shows it arrived; "
                        "check SendGrid's activity feed, then `followup reconcile --resend-unknown` if it did not"
                    ),
                    updated_at=now,
                ),
                unknown,
            )  # fmt: skip
    return {"sent": len(sent), "unknown": len(unknown), "alive": len(claimed) - len(dead)}


def _first_events(
    engine: Engine, keys: Sequence[str], kinds: Sequence[str] | None = None
) -> dict[str, tuple[str | None, datetime]]:
    """message_key -> (X-Message-Id, time) of its earliest event (of `kinds`, or any), for the
    keys that have one."""
    first: dict[str, tuple[str | None, datetime]] = {}
    with engine.connect() as conn:
        for chunk in chunks(list(keys)):
            query = (
                sa.select(_E.c.message_key, _E.c.provider_message_id, _E.c.occurred_at)
                .where(_E.c.message_key.in_(chunk))
                .order_by(_E.c.occurred_at)
            )
            if kinds is not None:
                query = query.where(_E.c.event.in_(kinds))
            for key, provider_id, occurred_at in conn.execute(query):
                if key not in first:
                    # sg_message_id is the X-Message-Id, a dot, then SendGrid's own suffix.
                    first[key] = (provider_id.split(".", 1)[0] if provider_id else None, occurred_at)
    return first


def reconcile_unknown(engine: Engine, on_record: Mapping[str, str] | None = None) -> int:
    """`unknown` messages whose settling events (SETTLING_EVENTS) have arrived since, or whose
    delivery is on record elsewhere (`on_record`: message_key -> provider id, e.g. its row on a
    call sheet): `sent`. Returns how many."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_M.c.id, _M.c.message_key, _M.c.claimed_at).where(_M.c.status == MessageStatus.UNKNOWN.value)
        ).all()
    accepted = _first_events(engine, [row.message_key for row in rows], SETTLING_EVENTS)
    for row in rows:
        if on_record and row.message_key in on_record and row.message_key not in accepted:
            # Written while its claim was held: the claim's time is when it was delivered.
            accepted[row.message_key] = (on_record[row.message_key], aware(row.claimed_at) or utcnow())
    settled = [
        {"_id": row.id, "_provider_id": accepted[row.message_key][0], "_sent_at": as_utc(accepted[row.message_key][1])}
        for row in rows
        if row.message_key in accepted
    ]
    if not settled:
        return 0
    statement = (
        _M.update()
        .where(_M.c.id == sa.bindparam("_id"), _M.c.status == MessageStatus.UNKNOWN.value)
        .values(
            status=MessageStatus.SENT.value,
            provider_message_id=sa.bindparam("_provider_id"),
            sent_at=sa.bindparam("_sent_at", type_=_M.c.sent_at.type),
            last_error=None,
            updated_at=utcnow(),
        )
    )
    with engine.begin() as conn:
        return conn.execute(statement, settled).rowcount


def unknown_messages(engine: Engine) -> list[dict]:
    """Messages that may or may not have gone out, for a person to decide on, oldest claim first."""
    columns = [_M.c[c] for c in ("id", "message_key", "campaign", "candidate_id", "kind", "step", "channel")]
    columns += [_M.c.attempts, _M.c.claimed_by, _M.c.claimed_at, _M.c.last_error]
    query = sa.select(*columns).where(_M.c.status == MessageStatus.UNKNOWN.value).order_by(_M.c.claimed_at, _M.c.id)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["claimed_at"] = aware(row["claimed_at"])
    return rows


def resend_unknown(engine: Engine, ids: Sequence[int]) -> int:
    """A person's decision that these `unknown` messages did not arrive: due again (`rendered`)."""
    statement = (
        _M.update()
        .where(_M.c.id.in_(sa.bindparam("_ids", expanding=True)), _M.c.status == MessageStatus.UNKNOWN.value)
        .values(
            status=MessageStatus.RENDERED.value,
            next_attempt_at=None,
            claimed_by=None,
            claimed_at=None,
            updated_at=utcnow(),
        )
    )
    changed = 0
    with engine.begin() as conn:
        for chunk in chunks(list(ids)):
            changed += conn.execute(statement, {"_ids": list(chunk)}).rowcount
    return changed
