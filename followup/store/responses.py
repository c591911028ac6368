"""Responses' SQL: what the ledger knows about the candidates an answer names, and storing answers once.

Whoever records a response decides its dedupe_key (followup.stages.outcomes for a recorded outcome);
the key is unique, and a response whose key is stored already is skipped (INSERT ... ON CONFLICT DO
NOTHING), so the same file imported twice, or the same answer arriving twice, is stored once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Candidate, Message
from followup.store.dialect import DriverSql, aware, chunks

_INSERT_CHUNK = 5_000


class SentMessage(NamedTuple):
    message_key: str
    candidate_id: str
    channel: str
    sent_at: datetime  # UTC


class NewResponse(NamedTuple):
    dedupe_key: str
    candidate_id: str
    message_key: str | None
    channel: str
    outcome: str
    note: str | None
    received_at: datetime
    source: str


def candidate_channels(engine: Engine, candidate_ids: Sequence[str]) -> dict[str, str]:
    """Each known candidate among `candidate_ids` -> their channel; unknown ids are left out."""
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for chunk in chunks(sorted(set(candidate_ids))):
            query = sa.select(Candidate.candidate_id, Candidate.channel).where(Candidate.candidate_id.in_(chunk))
            found.update((candidate, channel) for candidate, channel in conn.execute(query))
    return found


def sent_messages(engine: Engine, candidate_ids: Sequence[str]) -> list[SentMessage]:
    """Every message sent to these candidates (whatever has happened to it since), oldest first."""
    sent: list[SentMessage] = []
    with engine.connect() as conn:
        for chunk in chunks(sorted(set(candidate_ids))):
            query = sa.select(Message.message_key, Message.candidate_id, Message.channel, Message.sent_at).where(
                Message.candidate_id.in_(chunk), Message.sent_at.is_not(None)
            )
            sent.extend(SentMessage(key, who, channel, aware(at)) for key, who, channel, at in conn.execute(query))
    return sorted(sent, key=lambda message: message.sent_at)


def insert_responses(engine: Engine, responses: Iterable[NewResponse]) -> int:
    """Store responses in one transaction, skipping those whose dedupe_key is stored already
    (also a second one with the same key in `responses`). Returns how many are new."""
    stored = 0
    rows = iter(responses)
    with engine.begin() as conn:
        driver = DriverSql.of(conn.dialect)
        sql = (
            "INSERT INTO responses (dedupe_key, candidate_id, message_key, channel, outcome, note, received_at,"
            f" source) VALUES ({driver.marks(8)}) ON CONFLICT (dedupe_key) DO NOTHING"
        )
        while chunk := list(islice(rows, _INSERT_CHUNK)):
            values = [(*r[:6], driver.time(r.received_at), r.source) for r in chunk]
            stored += conn.exec_driver_sql(sql, values).rowcount
    return stored
