"""The key that makes each planned message unique in the ledger."""

from __future__ import annotations

import hashlib


def message_key(campaign: str, candidate_id: str, kind: str, step: int, channel: str) -> str:
    """Opaque and stable: it travels to SendGrid as custom_args.message_key, so no personal data."""
    raw = "\x1f".join((campaign, candidate_id, kind, str(step), channel))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
