"""An optional daily cap on emails (FOLLOWUP_DAILY_CAP), for a sending plan with a daily quota.

The day is the company's (FOLLOWUP_TIMEZONE, else UTC) on the business clock. The cap wraps the
email transport of one sender: once its share of what is left today is spent, sending stops
for the day (claimed rows not yet handed over go back to `rendered`, voicemails included, and
the next day's sweep takes them); the few already on their way to it wait in retry_wait until
the next day begins. Only emails count against the cap.
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


def day_bounds(business_now: datetime, zone: str | None) -> tuple[datetime, datetime]:
    """The start of the company's day holding `business_now`, and of the next one."""
    local = business_now.astimezone(ZoneInfo(zone or "UTC"))
    start = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
    return start, datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)


def emails_sent_since(engine: Engine, since: datetime) -> int:
    query = sa.select(sa.func.count()).where(
        Message.status == MessageStatus.SENT.value, Message.channel != "voicemail", Message.sent_at >= since
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


class DailyCap:
    name = "daily-cap"

    def __init__(
        self, email: Transport, cap: int, allowance: int, stop: threading.Event, reopens_in_s: Callable[[], float]
    ) -> None:
        self.email = email
        self.cap = cap
        self.left = allowance
        self.stop = stop
        self.reopens_in_s = reopens_in_s
        self._lock = threading.Lock()
        if allowance <= 0:
            stop.set()

    def send(self, envelope: Envelope) -> SendOutcome:
        with self._lock:
            if self.left <= 0:
                return SendOutcome.retry(f"the daily cap of {self.cap} emails is reached", self.reopens_in_s())
            self.left -= 1
            if self.left == 0:
                self.stop.set()  # no more claims today; the sends in flight finish
        return self.email.send(envelope)

    def close(self) -> None:
        self.email.close()
