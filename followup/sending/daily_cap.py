"""An optional daily cap on emails (FOLLOWUP_DAILY_CAP), for a sending plan with a daily quota.

The day is the company's (FOLLOWUP_TIMEZONE, else UTC) on the business clock. The cap wraps the
email transport of one sender: once its share of what is left today is spent, the sender claims
no more emails that day (the next day's sweep takes them), and the few already on their way to
it wait in retry_wait until the next day begins. Voicemails go on: they are calls on a
recruiter's call sheet, not emails, and neither count against the cap nor wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import Message, MessageStatus
from followup.transports.base import Envelope, SendOutcome, Transport


# Channels that never reach the email provider, so the cap neither counts nor holds them back.
UNCAPPED_CHANNELS = ("voicemail",)


def day_bounds(business_now: datetime, zone: str | None) -> tuple[datetime, datetime]:
    """The start of the company's day holding `business_now`, and of the next one."""
    local = business_now.astimezone(ZoneInfo(zone or "UTC"))
    start = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    return start, datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)


def emails_sent_since(engine: Engine, since: datetime) -> int:
    query = sa.select(sa.func.count()).where(
        Message.status == MessageStatus.SENT.value, Message.channel.not_in(UNCAPPED_CHANNELS), Message.sent_at >= since
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


class DailyCap:
    name = "daily-cap"

    def __init__(self, email: Transport, cap: int, allowance: int, reopens_in_s: Callable[[], float]) -> None:
        self.email = email
        self.cap = cap
        self.left = allowance
        self.closed = threading.Event()  # the sender claims no more emails once set
        self.reopens_in_s = reopens_in_s
        self._lock = threading.Lock()
        if allowance <= 0:
            self.closed.set()

    def send(self, envelope: Envelope) -> SendOutcome:
        with self._lock:
            if self.left <= 0:
                return SendOutcome.retry(f"the daily cap of {self.cap} emails is reached", self.reopens_in_s())
            self.left -= 1
            if self.left == 0:
                self.closed.set()  # no more email claims today; the sends in flight finish
        return self.email.send(envelope)

    def close(self) -> None:
        self.email.close()
