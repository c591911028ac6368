"""The business clock as a flow receives it (DESIGN.md: the two clocks)."""

from __future__ import annotations

from datetime import datetime, timezone


def business_time(value: datetime | str | None) -> datetime:
    """`value` as an aware datetime: None is now; a string is ISO 8601, as a deployment's parameter
    arrives (JSON has no datetime, and the flows take their parameters unvalidated); a time
    without an offset is UTC."""
    if value is None:
        return datetime.now(timezone.utc)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
