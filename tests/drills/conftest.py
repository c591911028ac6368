"""What the drills share: a ledger seeded with rendered offer emails, due already."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from followup.models import Batch, Candidate, Message


def seed_rendered(engine, messages: int, due: datetime) -> list[str]:
    """`messages` rendered offer emails, one per candidate, scheduled at `due`; their keys, in order."""
    keys = [f"drill:c{i:04d}:offer:0:email" for i in range(messages)]
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="drill.csv", file_sha256="0" * 64, status="imported"))
        conn.execute(sa.insert(Candidate), [
            {"candidate_id": f"c{i:04d}", "email": f"c{i:04d}@example.com", "first_name": "Ana", "last_name": "Silva",
             "channel": "email", "first_batch_id": "b1", "last_batch_id": "b1"}
            for i in range(messages)
        ])  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": key, "campaign": "drill", "candidate_id": f"c{i:04d}", "kind": "offer", "step": 0,
             "channel": "email", "status": "rendered", "subject": "Your offer", "text_body": "Dear Ana, welcome.",
             "scheduled_for": due}
            for i, key in enumerate(keys)
        ])  # fmt: skip
    return keys


@pytest.fixture
def seed():
    return seed_rendered
