"""The steps of a cadence: which message a decision gets first and when it is due, and the key
that makes each planned message unique in the ledger."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import NamedTuple

# The first message a decision gets; follow-up steps come later in the cadence.
FIRST_KIND = {"offer": "offer", "reject": "rejection"}


class FirstStep(NamedTuple):
    kind: str
    step: int
    channel: str
    due: datetime  # UTC, on the business clock


def first_step(decision: str, channel: str, business_now: datetime) -> FirstStep:
    """The decision's first message, on the candidate's own channel, due at `business_now`."""
    return FirstStep(FIRST_KIND[decision], 0, channel, business_now.astimezone(timezone.utc))


def message_key(campaign: str, candidate_id: str, kind: str, step: int, channel: str) -> str:
    """Opaque and stable: it travels to SendGrid as custom_args.message_key, so no personal data."""
    raw = "\x1f".join((campaign, candidate_id, kind, str(step), channel))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
