"""How the sender behaves (SendPolicy: concurrency, rate, attempts, backoff, pause after
failures) and what it reports (SendReport)."""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import timedelta

import sqlalchemy as sa

from followup.transports.base import SendOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendPolicy:
    concurrency: int = 64  # requests in flight, and so the most rows a crash can leave unknown
    rate_per_s: float | None = None  # at most this many requests a second (token bucket)
    max_attempts: int = 8  # a retryable message fails after this many attempts
    base_backoff_s: float = 2.0  # the first retry comes within this many seconds, doubling...
    max_backoff_s: float = 900.0  # ...up to this
    pause_after_consecutive_failures: int = 50  # 0: never pause
    # Retries due within this many (real) seconds are waited for before send_due returns; later
    # ones stay in retry_wait for the next sweep.
    wait_for_retries_s: float = 60.0
    # A ledger that cannot be reached (connections cut, a failover, a lock) is waited for this
    # many (real) seconds, the answers of the sends in flight held meanwhile; then the run stops.
    ledger_outage_s: float = 60.0

    def backoff(self, attempts: int, outcome: SendOutcome, rng: random.Random) -> timedelta:
        """Full jitter: anywhere up to base * 2^(attempts-1), capped; never before the provider's reset."""
        ceiling = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempts - 1))
        delay = rng.uniform(0.0, ceiling)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        return timedelta(seconds=delay)


@dataclass
class SendReport:
    sent: int = 0
    retry_wait: int = 0  # left waiting for a retry when the run ended
    failed: int = 0
    suppressed: int = 0
    cancelled: int = 0  # before a claim: a stop, an answer or a wrong number, or the offer deadline
    moved: int = 0  # their send window closed before a sender got to them: moved to the next
    unknown: int = 0  # handed to the transport, and no answer came back: it may have gone out
    released: int = 0  # claimed, never handed to the transport, back to rendered
    paused: bool = False
    errors: Counter = field(default_factory=Counter)  # every error answer, by short label
    pause_reason: str | None = None
    requests: int = 0  # messages handed to the transport, retries included

    @classmethod
    def merge(cls, reports: list[SendReport]) -> SendReport:
        """One report for several sender processes' reports."""
        total = cls()
        for report in reports:
            for f in fields(cls):
                value = getattr(report, f.name)
                if f.name == "paused":
                    total.paused = total.paused or value
                elif f.name == "pause_reason":
                    total.pause_reason = total.pause_reason or value
                elif f.name == "errors":
                    total.errors.update(value)
                else:
                    setattr(total, f.name, getattr(total, f.name) + value)
        return total


class TokenBucket:
    """Requests per second with a burst of a tenth of a second's worth, spent by one thread."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate = rate_per_s
        self.capacity = max(1.0, rate_per_s / 10)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self, wanted: int) -> int:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted

    def give_back(self, unused: int) -> None:
        self.tokens = min(self.capacity, self.tokens + unused)

    def wait_s(self) -> float:
        return max(0.0, (1.0 - self.tokens) / self.rate)


class LedgerWait:
    """A send turn could not reach the ledger: its connection was cut (a database restarted or
    failed over, a backend terminated) or stayed locked past the busy timeout. Nothing was
    written, and the answers stay in the sender's memory: the next turn writes them with the ones
    that came in meanwhile. After `outage_s` the error is raised: the sender winds down, and what
    it cannot write stays `sending` for recover_dead_claims."""

    _LONGEST_S = 2.0  # waits between turns double from the first up to this

    def __init__(self, outage_s: float, first_s: float) -> None:
        self.outage_s, self.first_s = outage_s, first_s
        self.since: float | None = None  # monotonic: the first turn the ledger refused
        self.retries = 0

    def away(self, exc: sa.exc.DBAPIError, held: int) -> None:
        if not (isinstance(exc, sa.exc.OperationalError) or exc.connection_invalidated):
            raise exc  # a bug or a schema problem, not an outage: waiting would not help
        now = time.monotonic()
        if self.since is None:
            self.since = now
            log.warning("the ledger is unavailable (%s); holding %d answers and trying again for up to %.0f s",
                        type(exc.orig).__name__, held, self.outage_s)  # fmt: skip
        elif now - self.since > self.outage_s:
            raise exc
        self.retries += 1
        time.sleep(min(self._LONGEST_S, self.first_s * 2 ** min(self.retries, 8)))

    def back(self) -> None:
        if self.since is not None:
            log.warning("the ledger is back after %.1f s", time.monotonic() - self.since)
            self.since, self.retries = None, 0
