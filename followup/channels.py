"""Each channel a message can take, declared once (the way apprise declares its services).

Everything that differs between channels reads this table: rendering (which parts, a word
limit, a calendar invitation), validation (what a row needs), sending (how it is delivered,
whether the daily cap counts it) and recovery (whether the provider reports events for it).
Adding a channel means its declaration here and its templates, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How a message leaves: through the configured email transport (SendGrid, SMTP, files), or as
# a row on the recruiter's call sheet for the day (followup.transports.callsheet).
Delivery = Literal["email", "call_sheet"]


@dataclass(frozen=True)
class Channel:
    name: str
    # Reaches the candidate as an email: unsubscribe headers and open/click tracking apply, and
    # it renders html, subject and text parts. Otherwise it renders one script for a person to read.
    by_mail: bool
    capped: bool  # counts against FOLLOWUP_DAILY_CAP (a quota of the email provider)
    has_events: bool  # the provider reports what happened to it (processed, delivered, bounce...)
    delivery: Delivery
    needs: tuple[str, ...]  # the row's columns it cannot go without
    parts: tuple[str, ...]  # template parts, the main one (recorded as the message's template) first
    max_words: int | None = None  # a script read aloud must fit its slot
    calendar_invite: bool = False  # carries an .ics invitation to a meeting


# About 2.5 spoken words a second: what fits in the 30 seconds a voicemail gets.
MAX_VOICEMAIL_WORDS = 75

CHANNELS: dict[str, Channel] = {
    channel.name: channel
    for channel in (
        Channel("email", by_mail=True, capped=True, has_events=True, delivery="email",
                needs=("email",), parts=("html", "subject", "txt")),
        Channel("voicemail", by_mail=False, capped=False, has_events=False, delivery="call_sheet",
                needs=("email", "phone"), parts=("txt",), max_words=MAX_VOICEMAIL_WORDS),
        Channel("in_person", by_mail=True, capped=True, has_events=True, delivery="email",
                needs=("email",), parts=("html", "subject", "txt", "event"), calendar_invite=True),
    )
}  # fmt: skip
CHANNEL_NAMES = tuple(CHANNELS)
# A row that names no channel (DESIGN.md, input columns).
DEFAULT_CHANNEL = "email"


def uncapped() -> tuple[str, ...]:
    """The channels a spent daily cap does not hold back."""
    return tuple(name for name, channel in CHANNELS.items() if not channel.capped)


def capped() -> tuple[str, ...]:
    """The channels FOLLOWUP_DAILY_CAP counts."""
    return tuple(name for name, channel in CHANNELS.items() if channel.capped)


def delivered_by(delivery: Delivery) -> tuple[str, ...]:
    return tuple(name for name, channel in CHANNELS.items() if channel.delivery == delivery)


def needing(column: str) -> tuple[str, ...]:
    """The channels a row cannot take without `column` (e.g. phone)."""
    return tuple(name for name, channel in CHANNELS.items() if column in channel.needs)
