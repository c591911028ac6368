"""The template context: ledger rows in, plain values out.

Every optional field is present (None, or an empty list) so StrictUndefined still catches a
real typo while templates spell out their fallbacks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from pydantic import SecretStr

from .formatting import get_zone

# Without an offer_deadline the offer still names a date, fixed from the first message: two weeks
# is long enough to decide, short enough to keep the momentum, and outlasts the default cadence
# (its last nudge goes 7 business days after the offer, later over holidays), so no nudge names a
# date that has passed.
DEFAULT_REPLY_DAYS = 14
_REPLY_WITHIN = timedelta(days=DEFAULT_REPLY_DAYS)

_TEXT_FIELDS = (
    "candidate_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "timezone",
    "country",
    "locale",
    "role",
    "decision",
    "currency",
    "location",
    "recruiter_name",
    "recruiter_email",
    "recruiter_phone",
    "hiring_manager",
    "company",
    "meeting_location",
    "notes",
)


_ABSENT = object()


def _missing(value: Any) -> bool:
    # NaN and NaT are the only values unequal to themselves: pandas' blanks.
    return value is None or value != value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if value.__class__ is not str:  # numbers, NaN from pandas; strings are the common case
        if value != value:
            return None
        value = str(value)
    return value.strip() or None


def _moment(value: Any) -> datetime | None:
    """An aware datetime; naive ones (from SQLite, as text or datetimes) are UTC."""
    if value.__class__ is datetime:  # PostgreSQL's rows, the samples, callers' values
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if value.__class__ is str and value:  # SQLite's rows (rows_for_render): naive UTC text
        value = datetime.fromisoformat(value.strip())
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    if _missing(value) or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    elif not isinstance(value, datetime) and isinstance(value, date):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _day(value: Any) -> date | None:
    """A calendar date as stored: date-only columns arrive as midnight UTC, and shifting them
    into a western time zone would move a start date to the day before."""
    moment = _moment(value)
    return None if moment is None else moment.date()


def _local_day(moment: datetime, zone: str | None) -> date:
    try:
        return moment.astimezone(get_zone(zone or "UTC")).date()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.date()


def _deadline_day(value: Any, zone: str | None) -> date | None:
    """A deadline given as a date stays that date; one with a time of day is the date it
    falls on where the candidate lives."""
    moment = _moment(value)
    if moment is None:
        return None
    if not (moment.hour or moment.minute or moment.second or moment.microsecond):
        return moment.date()
    return _local_day(moment, zone)


def _amount(value: Any) -> int | float | None:
    if _missing(value) or value == "":
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _items(value: Any) -> list[str]:
    text = _text(value)
    if text is None:
        return []
    return [item.strip() for item in text.split(";") if item.strip()]


def candidate_context(
    candidate: Mapping,
    decision: Mapping,
    *,
    now: datetime,
    message_key: str | None = None,
    step: int = 0,
    scheduled_for: Any = None,
    cadence_started_at: Any = None,
) -> dict:
    """Build a template context from a Candidate row and its Decision row (or one joined row).

    `now` is the clock the message is rendered by (the context's `rendered_at`); the text speaks
    from when the message is due, `scheduled_for`, else from `now` (the context's `now`).
    `cadence_started_at` is when the cadence's first message went out: a later step counts its
    reply-by date from it."""
    ctx: dict[str, Any] = {}
    for field in _TEXT_FIELDS:
        value = candidate.get(field, _ABSENT)
        if value is _ABSENT:
            value = decision.get(field)
        # Inline for the common case, a string: nineteen fields a message.
        ctx[field] = (value.strip() or None) if value.__class__ is str else _text(value)
    rendered_at = _moment(now)
    if rendered_at is None:
        raise ValueError("now is required")
    due = _moment(scheduled_for)
    ctx["currency"] = ctx["currency"].upper() if ctx["currency"] else None
    ctx["country"] = ctx["country"].upper() if ctx["country"] else None
    ctx["decision"] = ctx["decision"].lower() if ctx["decision"] else None
    ctx["full_name"] = " ".join(f"{ctx['first_name'] or ''} {ctx['last_name'] or ''}".split()) or None
    ctx["reasons"] = _items(decision.get("reasons"))
    ctx["interests"] = _items(decision.get("interests"))
    ctx["salary_min"] = _amount(decision.get("salary_min"))
    ctx["salary_max"] = _amount(decision.get("salary_max"))
    ctx["decided_at"] = _moment(decision.get("decided_at"))
    ctx["meeting_at"] = _moment(decision.get("meeting_at"))
    ctx["start_date"] = _day(decision.get("start_date"))
    ctx["offer_deadline"] = _deadline_day(decision.get("offer_deadline"), ctx["timezone"])
    ctx["now"] = due or rendered_at
    # Without a deadline the date is set once, by the first message: a nudge that named a week
    # from its own day would move the date the candidate was first given.
    ctx["reply_by"] = ctx["offer_deadline"] or _local_day(
        (_moment(cadence_started_at) or ctx["now"]) + _REPLY_WITHIN, ctx["timezone"]
    )
    ctx["message_key"] = message_key
    ctx["step"] = int(step)
    ctx["scheduled_for"] = due
    ctx["rendered_at"] = rendered_at
    return ctx


def assign_variant(campaign: str, candidate_id: str, variants: Sequence[str]) -> str:
    """The same candidate in the same campaign always gets the same variant, on any machine
    and in any run (a hash, not Python's salted hash() or a random draw)."""
    if not variants:
        raise ValueError("no variants to choose from")
    digest = hashlib.sha256(f"{campaign}\x1f{candidate_id}".encode("utf-8")).digest()
    return variants[int.from_bytes(digest[:8], "big") % len(variants)]


# The standard library's hmac is all a token needs: one signature over one value, with no expiry
# (a link must keep working as long as the mail is kept) and nothing to serialise, which is what
# a library such as itsdangerous would add.
_SIGNATURE_BYTES = 16  # HMAC-SHA256 cut to 128 bits: forging one is guessing 2**128 values
# Signed with the purpose in front, so a signature the same secret makes for anything else one
# day never passes as an unsubscribe link.
_PURPOSE = b"followup-unsubscribe\x1f"
# A message key is 1 to 64 characters (the ledger's column; ours are 64 hex digits): with its
# signature, 23 to 107 characters of base64.
UNSUBSCRIBE_TOKEN_CHARS = tuple(math.ceil((key_bytes + _SIGNATURE_BYTES) * 4 / 3) for key_bytes in (1, 64))


def _signature(key: bytes, secret: SecretStr) -> bytes:
    return hmac.digest(secret.get_secret_value().encode("utf-8"), _PURPOSE + key, "sha256")[:_SIGNATURE_BYTES]


def unsubscribe_token(message_key: str, secret: SecretStr) -> str:
    """The token in the unsubscribe link: the message key and its signature with the secret
    (FOLLOWUP_SECRET_KEY), in unpadded URL-safe base64. It names the message, not the person,
    so the link carries no personal data; and only the secret's holder can make one, so knowing
    a campaign and a candidate id is not enough to unsubscribe anybody."""
    key = message_key.encode("utf-8")
    return base64.urlsafe_b64encode(key + _signature(key, secret)).decode("ascii").rstrip("=")


def message_key_from_unsubscribe_token(token: str, secret: SecretStr) -> str | None:
    """The message key an unsubscribe link was made for; None for a mangled or forged token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    key, signature = raw[:-_SIGNATURE_BYTES], raw[-_SIGNATURE_BYTES:]
    # compare_digest: how long the check takes tells nothing about how close a forgery came.
    if not key or not hmac.compare_digest(signature, _signature(key, secret)):
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return None


SAMPLE_NOW = datetime(2024, 3, 11, 9, 0, tzinfo=timezone.utc)

_SAMPLE_ROWS: tuple[dict[str, Any], ...] = (
    {  # an offer with every field filled in
        "candidate_id": "sample-offer-full",
        "email": "priya.raman@example.com",
        "first_name": "Priya",
        "last_name": "Raman",
        "phone": "+1 212 555 0187",
        "timezone": "America/New_York",
        "country": "US",
        "locale": "en_US",
        "role": "Senior Data Engineer",
        "decision": "offer",
        "decided_at": datetime(2024, 3, 8, 16, 0),
        "offer_deadline": datetime(2024, 3, 22),
        "start_date": datetime(2024, 4, 15),
        "salary_min": 145000,
        "salary_max": 165000,
        "currency": "USD",
        "location": "New York (hybrid)",
        "reasons": "the way you redesigned the ingestion pipeline in the take-home;"
        "clear, calm explanations to the panel",
        "interests": "mentoring junior engineers; owning a platform end to end",
        "recruiter_name": "Dana Whitfield",
        "recruiter_email": "dana.whitfield@northwind.example",
        "recruiter_phone": "+1 212 555 0142",
        "hiring_manager": "Luis Ortega",
        "company": "Northwind Analytics",
        "meeting_at": datetime(2024, 3, 14, 15, 30),
        "meeting_location": "Northwind Analytics, 120 Hudson St, 5th floor, New York",
        "notes": "internal: counter-offer likely",
    },
    {  # an offer with only the required fields
        "candidate_id": "sample-offer-minimal",
        "email": "sam.lee@example.com",
        "first_name": "Sam",
        "last_name": "Lee",
        "phone": "+44 20 7946 0958",
        "role": "Support Engineer",
        "decision": "offer",
    },
    {  # a rejection in another locale, with feedback
        "candidate_id": "sample-reject-full",
        "email": "jonas.becker@example.de",
        "first_name": "Jonas",
        "last_name": "Becker",
        "phone": "+49 30 1234567",
        "timezone": "Europe/Berlin",
        "country": "DE",
        "locale": "de_DE",
        "role": "Product Designer",
        "decision": "reject",
        "salary_min": 62000,
        "salary_max": 70000,
        "currency": "EUR",
        "reasons": "a portfolio case study with measured outcomes would have helped;"
        "the system-design exercise ran out of time",
        "interests": "design systems",
        "recruiter_name": "Mara Vogel",
        "recruiter_email": "mara.vogel@northwind.example",
        "recruiter_phone": "+49 30 9876543",
        "company": "Northwind Analytics",
        "meeting_location": "Northwind Analytics, Torstrasse 1, Berlin",
    },
    {  # a rejection with only the required fields
        "candidate_id": "sample-reject-minimal",
        "email": "alex.kim@example.com",
        "first_name": "Alex",
        "last_name": "Kim",
        "phone": "+1 415 555 0199",
        "role": "QA Analyst",
        "decision": "reject",
    },
    {  # hostile values: they must come out literally, never evaluated, escaped in HTML
        "candidate_id": "sample-hostile",
        "email": "eve@example.com",
        "first_name": "{{ 7*7 }}",
        "last_name": "<script>alert(1)</script>",
        "phone": "+1 646 555 0110",
        "timezone": "Asia/Kolkata",
        "locale": "en_IN",
        "role": 'R&D <Lead> "Ops"',
        "decision": "offer",
        "salary_min": 2400000,
        "currency": "INR",
        "reasons": "{% raw %}x{% endraw %};\tknows <b>bold</b> & 'quotes'\nand newlines",
        "interests": "{{ config }}",
        "recruiter_name": 'Ro\'b "Bob" <b>',
        "company": "Smith & <Sons>",
        "meeting_location": "<img src=x onerror=alert(1)>",
    },
)


def sample_contexts() -> list[dict]:
    """Sample candidates for linting: offer and rejection, full and minimal, hostile values."""
    return [
        candidate_context(row, row, now=SAMPLE_NOW, message_key=f"sample-key-{number}")
        for number, row in enumerate(_SAMPLE_ROWS, start=1)
    ]
