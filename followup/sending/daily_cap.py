"""An optional daily cap on emails (FOLLOWUP_DAILY_CAP), for a sending plan with a daily quota.

The day is the company's (FOLLOWUP_TIMEZONE, else UTC) on the business clock. The cap wraps the
transport of one sender: once its share of what is left today is spent, the sender claims no
more emails that day (the next day's sweep takes them), and the few already on their way to it
wait in retry_wait until the next day begins. The channels the cap does not count
(followup.channels: voicemails, calls on a recruiter's call sheet) go on and never wait for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from followup.channels import CHANNELS
from followup.transports.base import Envelope, SendOutcome, Transport

log = logging.getLogger(__name__)


def day_bounds(business_now: datetime, zone: str | None) -> tuple[datetime, datetime]:
    """The start of the company's day holding `business_now`, and of the next one."""
    local = business_now.astimezone(ZoneInfo(zone or "UTC"))
    start = datetime.combine(local.date(), clock_time(0), tzinfo=local.tzinfo)
    return start, datetime.combine(local.date() + timedelta(days=1), clock_time(0), tzinfo=local.tzinfo)


class DailyCap:
    name = "daily-cap"

    def __init__(self, inner: Transport, cap: int, allowance: int, reopens_in_s: Callable[[], float]) -> None:
        self.inner = inner
        self.cap = cap
        self.left = allowance
        self.closed = threading.Event()  # the sender claims no more emails once set
        self.reopens_in_s = reopens_in_s
        self._lock = threading.Lock()
        if allowance <= 0:
            self.closed.set()

    def send(self, envelope: Envelope) -> SendOutcome:
        if not CHANNELS[envelope.channel].capped:
            return self.inner.send(envelope)
        with self._lock:
            if self.left <= 0:
                return SendOutcome.retry(f"the daily cap of {self.cap} emails is reached", self.reopens_in_s())
            self.left -= 1
            if self.left == 0:
                self.closed.set()  # no more email claims today; the sends in flight finish
        return self.inner.send(envelope)

    def close(self) -> None:
        self.inner.close()


def capped(
    inner: Transport,
    cap: int,
    sent_today: Callable[[datetime], int],
    business_now: datetime,
    zone: str | None,
    senders: int,
    index: int,
) -> DailyCap:
    """`inner` behind sender `index`'s share (of `senders`) of what is left of today's cap;
    `sent_today(day_start)` counts what the capped channels sent since then."""
    day_start, next_day = day_bounds(business_now, zone)
    left = max(0, cap - sent_today(day_start))
    share = left // senders + (1 if index < left % senders else 0)
    started = time.monotonic()

    def reopens_in_s() -> float:
        # The business clock runs on from business_now with real time.
        return max(1.0, (next_day - business_now).total_seconds() - (time.monotonic() - started))

    if share == 0:
        log.warning("the daily cap of %d emails is reached; the rest wait for tomorrow", cap)
    return DailyCap(inner, cap, share, reopens_in_s)
