"""Drill: storms of 500s, 503s and 429s from SendGrid, ridden out within one run.

The sandbox answers a share of requests 500 or 503 and, every so often, a burst of 429s whose
X-RateLimit-Reset is a real unix time a second or two ahead. One `send_due` must still send every
message exactly once before it returns (DESIGN.md: `followup run` retries transient failures
within the run), and no retry of a rate-limited message may go out before its reset.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from drillkit import backend, check_delivery, envelope_for
from followup.sandbox import Sandbox, SandboxConfig
from followup.sending import SendPolicy, send_due
from followup.store import open_ledger
from followup.store.owners import Owner
from followup.transports.base import Envelope, SendOutcome
from followup.transports.sendgrid import SendGridTransport

pytestmark = pytest.mark.drill

MESSAGES = 300
CONCURRENCY = 8
# Backoff of the shipped policy's shape, in tenths of seconds, so the drill takes seconds; the
# 429s' reset is SendGrid's own (a second or two), and it must win over the shorter backoff.
POLICY = SendPolicy(concurrency=CONCURRENCY, base_backoff_s=0.05, max_backoff_s=0.5)
STORM = SandboxConfig(latency_ms=10, validate_share=0.0, error_rate=0.15, burst_429_every=40, burst_429_length=6,
                      seed=5)  # fmt: skip


class Recording:
    """The SendGrid transport, noting when each request of each message started and what came back."""

    def __init__(self, transport: SendGridTransport) -> None:
        self.transport = transport
        self.name = transport.name
        self.attempts: dict[str, list[tuple[float, float, SendOutcome]]] = defaultdict(list)
        self._lock = threading.Lock()

    def send(self, envelope: Envelope) -> SendOutcome:
        started = time.time()
        outcome = self.transport.send(envelope)
        answered = time.time()
        with self._lock:
            self.attempts[envelope.message_key].append((started, answered, outcome))
        return outcome

    def close(self) -> None:
        self.transport.close()


def test_every_message_goes_once_through_a_storm_of_500s_and_429s(ledger_url, seed):
    engine = open_ledger(ledger_url)
    now = datetime.now(timezone.utc)
    keys = seed(engine, MESSAGES, now - timedelta(minutes=5))
    with Sandbox(STORM) as sandbox:
        transport = Recording(SendGridTransport(sandbox.config.api_key, host=sandbox.url, pool_size=CONCURRENCY))
        started = time.monotonic()
        report = send_due(engine, transport, envelope_for, owner=Owner.current(), policy=POLICY, business_now=now)
        took = time.monotonic() - started
        transport.close()
        accepted = sandbox.message_keys()
        answers = sandbox.stats()["answers"]

    delivery = check_delivery(engine, accepted, keys)
    assert (report.sent, report.retry_wait, report.failed, report.unknown) == (MESSAGES, 0, 0, 0)
    assert delivery.sent == delivery.accepted == MESSAGES  # within the run: nothing left for a later sweep
    assert {"429", "500", "503"} <= set(answers)  # the storm happened
    assert report.requests == sum(answers.values())  # every answer reached the ledger

    too_soon, rate_limited, waits = [], 0, []
    for key, tries in transport.attempts.items():
        for (_, answered, outcome), (next_start, _, _) in zip(tries, tries[1:]):
            assert outcome.status == "retry", f"{key} was sent again after {outcome.status}"
            if outcome.retry_after is not None:  # a 429: its X-RateLimit-Reset, seconds after the answer
                rate_limited += 1
                waits.append(next_start - answered)
                if next_start < answered + outcome.retry_after:
                    too_soon.append((key, next_start - answered, outcome.retry_after))
        assert tries[-1][2].status == "sent" and len(tries) <= POLICY.max_attempts
    assert rate_limited and not too_soon, too_soon[:5]
    statuses = Counter(str(outcome.status) for tries in transport.attempts.values() for *_, outcome in tries)
    print(f"\ndrill error-storms [{backend(engine)}]: {report.requests} requests in {took:.1f}s, answers {answers}; "
          f"{rate_limited} rate-limited retries waited {min(waits):.2f}-{max(waits):.2f}s, none before the reset; "
          f"outcomes {dict(statuses)}; {delivery.line()}")
