"""SendGrid's events as the ledger keeps them: one row per event, whatever reached us.

An Event Webhook POST (and an exported file) is a JSON array of objects; custom_args come back
as top-level keys, so `message_key` is one of them. Nothing is dropped for missing a field: an
event without sg_event_id (an export cut by hand, an old webhook version) gets one made from its
content, so a second copy of it is still stored once. Only a body that is not a list of objects
is refused: it is not SendGrid's, and SendGrid would not send it again any differently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# SendGrid's sg_event_id is at most 100 characters; the column holds 128, and anything longer is
# not SendGrid's id, so it is hashed rather than cut (two ids cut alike would be one event).
_MAX_ID_CHARS = 128
_MAX_NAME_CHARS = 32
_MAX_KEY_CHARS = 64
# Suppressions the events bring: address-level events that mean never write again, by reason.
# A hard bounce ("bounce" of type "bounce") is the address being bad; a "blocked" bounce is a
# receiving server's temporary refusal and suppresses nothing.
SUPPRESSING = {"unsubscribe": "unsubscribe", "group_unsubscribe": "unsubscribe", "spamreport": "spamreport"}
HARD_BOUNCE = "bounce"


class NotEvents(ValueError):
    """The body is not a JSON array of event objects."""


@dataclass(frozen=True, slots=True)
class EventRow:
    sg_event_id: str
    message_key: str | None
    provider_message_id: str | None  # the whole sg_message_id
    event: str
    occurred_at: datetime  # UTC, the business clock SendGrid (or the sandbox) stamped
    machine_open: bool
    email: str | None
    payload: dict[str, Any]

    @property
    def x_message_id(self) -> str | None:
        """The X-Message-Id SendGrid answered the send with: sg_message_id up to its first dot."""
        return self.provider_message_id.split(".", 1)[0] if self.provider_message_id else None

    @property
    def suppression(self) -> str | None:
        """The suppression reason this event records for its address, or None."""
        if self.event == "bounce":
            # No type (older payloads): SendGrid only reported hard bounces as "bounce" then.
            return HARD_BOUNCE if self.payload.get("type", "bounce") == "bounce" else None
        return SUPPRESSING.get(self.event)


def parse_body(body: bytes | str) -> list[Any]:
    """The decoded JSON array of a webhook POST; NotEvents when it is not one."""
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotEvents(f"not JSON: {exc}") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise NotEvents("not a JSON array of event objects")
    return events


def parse_lines(text: str) -> list[Any]:
    """An exported file: SendGrid's JSON array, or JSON lines (one event object per line)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        return parse_body(stripped)
    events = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise NotEvents(f"line {number} is not JSON: {exc}") from None
        if not isinstance(event, dict):
            raise NotEvents(f"line {number} is not an event object")
        events.append(event)
    return events


def _text(value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return text if len(text) <= limit else None


def _made_id(event: dict[str, Any]) -> str:
    content = json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()[:64]


def _moment(value: Any, fallback: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return fallback


def normalise(event: dict[str, Any], received_at: datetime) -> EventRow:
    """The row of one event object; `received_at` stands in for a timestamp it lacks."""
    given = event.get("sg_event_id")
    sg_event_id = given if isinstance(given, str) and 0 < len(given) <= _MAX_ID_CHARS else _made_id(event)
    name = _text(event.get("event"), _MAX_NAME_CHARS) or "unknown"
    return EventRow(
        sg_event_id=sg_event_id,
        message_key=_text(event.get("message_key"), _MAX_KEY_CHARS),
        provider_message_id=_text(event.get("sg_message_id"), 128),
        event=name,
        occurred_at=_moment(event.get("timestamp"), received_at),
        # Only SendGrid's flag here: the timing and proxy signals need the delivery, which may
        # come in a later POST, so engagement weighs them when it reads the events.
        machine_open=name == "open" and event.get("sg_machine_open") is True,
        email=_text(event.get("email"), 320),
        payload=event,
    )
