"""The send loop: hands due messages to a transport and records every answer, each message exactly once.

    report = send_due(engine, transport, envelope_for, owner=Owner.current(), policy=SendPolicy(),
                      business_now=now)

How it keeps its promise (DESIGN.md, "The message ledger"):

- Claims just in time. `concurrency` worker threads send; one coordinator (the calling thread)
  claims a row only for a worker that is free to send it at once, so the rows in `sending` are
  never more than the workers (each holds one row, from its claim until its answer is written).
  A crash leaves at most `concurrency` rows whose fate is unknown; recover_dead_claims settles
  them from events or marks them `unknown`. Nothing is ever resent blindly.
- The coordinator is the only thread that touches the ledger. Each turn it writes the answers
  that came in since the last one and claims for every free worker, in one transaction: SQLite's
  single writer is never fought over, and a commit serves many messages.
- `sent` only after the transport says so (SendGrid's 202), with the provider's message id.
  A retryable answer waits in `retry_wait` (exponential backoff with full jitter on the real
  clock, never sooner than X-RateLimit-Reset allows); after max_attempts, or for a permanent
  answer, `failed` with the provider's words. A request that went out without an answer is
  `unknown` at once, never resent: its events settle it (store.recovery.reconcile_unknown).
  A message whose email cannot be built fails alone and is never sent. A claim never handed
  to the transport (Ctrl-C, a pause) is released.
- A rate limit is a token bucket the coordinator spends before it claims: no claimed row waits.
- After `pause_after_consecutive_failures` final failures in a row it stops claiming and
  reports paused: a revoked API key should cost fifty messages, not fifty thousand.
- With a daily cap (`daily_cap`), each claim takes the allowance of the capped messages it
  claims in its own transaction, and answers the provider did not take give theirs back in the
  same commit (followup.sending.daily_cap). While the day's cap is spent, only the channels it
  does not count (followup.channels: voicemails, written onto call sheets) are claimed.
- Ctrl-C (in the main thread) stops claiming: the sends in flight finish and are
  recorded, then KeyboardInterrupt is raised. A second Ctrl-C interrupts at once; whatever it
  leaves `sending` is settled by recover_dead_claims once the process has ended.

The business clock (`business_now`) decides what is due and whether its send window is still
open, advancing with real time from there, so a long run never sends after a window closed;
sent_at is on it too. The real clock (`real_clock`) paces retries.
"""

from __future__ import annotations

import logging
import queue
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup import channels
from followup.sending.daily_cap import DailyAllowance
from followup.sending.policy import LedgerWait, SendPolicy, SendReport, TokenBucket
from followup.store import sending, stop_rules
from followup.store.owners import Owner
from followup.transports.base import Envelope, SendOutcome, Transport, check_limits

log = logging.getLogger(__name__)

# How long the coordinator waits before looking again when nothing was due, and the longest it
# blocks without looking at Ctrl-C or a closed email channel.
_POLL_S = 0.1
# A turn costs one commit whatever the number of rows, and every statement lets go of the
# interpreter lock and waits to get it back from the sending threads: after the first answer
# the coordinator sleeps this long and takes every answer that came in meanwhile, rather than
# waking for each (measured with 64 workers: it halves the coordinator's CPU per message).
_GATHER_S = 0.005
# The look-ahead (a read, not a claim; see sending.due_ids) costs a scan of every pending row
# (~0.2 s for 100,000 on SQLite here) however many ids it keeps, so it keeps plenty.
_LOOKAHEAD_PER_WORKER = 32
_LOOKAHEAD_MIN = 10_000
# A claim looks among this many times the ids it needs: ids another sender took meanwhile are
# simply not claimed.
_SLICE_FACTOR = 4
_ERROR_LABEL_LENGTH = 120
_AWAIT_RENDER_S = 0.5  # while more is on the way each look costs a look-ahead scan: look less often


class _Result(NamedTuple):
    row: dict
    outcome: SendOutcome | None  # None: never handed to the transport, or it raised
    problem: str | None = None  # why it failed before sending, or why it is unknown
    unknown: bool = False


def send_due(
    engine: Engine,
    transport: Transport,
    envelope_for: Callable[[dict], Envelope],
    *,
    owner: Owner,
    policy: SendPolicy,
    business_now: datetime,
    campaign: str | None = None,
    real_clock: Callable[[], float] = time.time,
    daily_cap: DailyAllowance | None = None,
    more_coming: Callable[[], bool] | None = None,
) -> SendReport:
    """Send every message due at `business_now` (of `campaign`, or all), retrying within the run
    what comes due again within policy.wait_for_retries_s. `envelope_for(row)` builds the email
    from a claimed row (see sending.claim for its keys); when it raises, that message fails alone.
    Returns when nothing more is due, or when paused. With `daily_cap`, capped messages are
    claimed only as far as the day's cap allows, all senders together. `more_coming()`: more on the way."""
    if policy.concurrency < 1:
        raise ValueError("SendPolicy.concurrency must be at least 1")
    return _Sender(engine, transport, envelope_for, owner, policy, business_now, campaign, real_clock, daily_cap,
                   more_coming).run()  # fmt: skip


class _Settlement(NamedTuple):
    sent: list
    retry: list
    failed: list
    unknown: list
    released: list


class _Sender:
    def __init__(self, engine, transport, envelope_for, owner, policy, business_now, campaign, real_clock, daily_cap,
                 more_coming):  # fmt: skip
        self.engine = engine
        self.transport = transport
        self.envelope_for = envelope_for
        self.owner = owner
        self.policy = policy
        self.business_now = business_now
        self.campaign = campaign
        self.real_clock = real_clock
        self.daily_cap = daily_cap
        self.more_coming = more_coming
        self.channels: tuple[str, ...] | None = None  # all, except while the daily cap is spent
        self.started_real = real_clock()
        self.report = SendReport()
        self.answers: queue.SimpleQueue = queue.SimpleQueue()  # (result or None, the worker's inbox)
        self.halted = threading.Event()  # no more claims; workers release what they have not sent
        self.idle: list[queue.SimpleQueue] = []
        self.workers_left = policy.concurrency
        self.in_flight: dict[int, dict] = {}  # claimed, answer not yet written
        self.unwritten: list[_Result] = []  # answers taken from the workers, not yet committed
        self.handed: set[int] = set()  # ids handed to the transport, answer not yet committed
        self.interrupted = False
        self.lookahead: deque[int] = deque()
        self.waiting: set[int] = set()  # ids whose latest answer in this run was "retry"
        self.consecutive_failures = 0
        self.next_claim_at = 0.0  # monotonic
        self.bucket = TokenBucket(policy.rate_per_s) if policy.rate_per_s else None
        self.rng = random.Random()
        self.ledger = LedgerWait(policy.ledger_outage_s, _POLL_S)

    # --- clocks ---

    def _real_now(self) -> datetime:
        return datetime.fromtimestamp(self.real_clock(), timezone.utc)

    def _business_clock(self) -> datetime:
        return self.business_now + timedelta(seconds=self.real_clock() - self.started_real)

    # --- the coordinator ---

    def run(self) -> SendReport:
        self.report.suppressed += sending.suppress_due(self.engine, self.business_now, self.campaign)
        self.report.cancelled += sending.cancel_stopped_due(self.engine, self.business_now, self.campaign)
        threads = [
            threading.Thread(target=self._work, name=f"followup-send-{n}", daemon=True)
            for n in range(self.policy.concurrency)
        ]
        for thread in threads:
            thread.start()
        with self._ctrl_c_stops():
            try:
                while self.workers_left:
                    try:
                        self._turn()
                    except sa.exc.DBAPIError as exc:
                        self.ledger.away(exc, len(self.unwritten))
                    else:
                        self.ledger.back()
            except BaseException:
                self._wind_down()
                raise
            finally:
                for thread in threads:
                    thread.join()
        self.report.retry_wait = len(self.waiting)
        if self.interrupted:
            raise KeyboardInterrupt
        return self.report

    @contextmanager
    def _ctrl_c_stops(self) -> Iterator[None]:
        """Ctrl-C only raises a flag: a KeyboardInterrupt between two lines of the coordinator
        could lose an answer already taken from a worker, and a lost answer is a message sent
        but never marked sent."""
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or previous is None:
            yield  # signals reach the main thread only; None: a handler Python did not install
            return

        def first_ctrl_c(signum, frame) -> None:
            self.interrupted = True
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, first_ctrl_c)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _turn(self) -> None:
        if self.halted.is_set():
            timeout = None  # every worker still out is finishing a send and will answer
        elif self.idle:
            timeout = min(_POLL_S, max(0.0, self.next_claim_at - time.monotonic()))
        else:
            timeout = _POLL_S
        answers = self._gather(timeout)
        self.idle.extend(inbox for _, inbox in answers)
        self.unwritten += [result for result, _ in answers if result is not None]
        if self.unwritten and len(self.unwritten) == len(self.in_flight):
            self.next_claim_at = 0.0  # every request out has answered: look again now, not at the next poll
        if self.interrupted and not self.halted.is_set():
            # Halted before the line is logged: whoever reads it knows no claim reaches the transport any more.
            self.halted.set()
            log.info("asked to stop: finishing the %d sends in flight", len(self.in_flight))
        wanted, refreshed = self._wanted()
        rows = self._write(self.unwritten, wanted)
        if self.bucket is not None:
            self.bucket.give_back(wanted - len(rows))
        for row in rows:
            self.idle.pop().put(row)
        # A claim the daily cap cut short says nothing about what is due.
        switched = self.daily_cap is not None and self._follow_the_cap()
        if wanted and len(rows) < wanted and not switched:
            if refreshed:
                self._nothing_due_now()
            # else: the look-ahead ran dry; the next turn reads it again before claiming.
        if self.halted.is_set():
            for inbox in self.idle:
                inbox.put(None)
            self.workers_left -= len(self.idle)
            self.idle.clear()

    def _gather(self, timeout: float | None) -> list:
        answers = []
        try:
            answers.append(self.answers.get(timeout=timeout))
            if not self.halted.is_set() and len(self.idle) + 1 < self.policy.concurrency:
                time.sleep(_GATHER_S)  # other workers are out: let their answers gather
            while True:
                answers.append(self.answers.get_nowait())
        except queue.Empty:
            return answers

    def _wanted(self) -> tuple[int, bool]:
        """How many rows to claim this turn, and whether the look-ahead was read afresh for it
        (outside the write transaction: that read looks at every pending row)."""
        wanted = len(self.idle)
        if self.halted.is_set() or not wanted or time.monotonic() < self.next_claim_at:
            return 0, False
        if self.bucket is not None:
            wanted = self.bucket.take(wanted)
            if not wanted:
                self.next_claim_at = time.monotonic() + self.bucket.wait_s()
                return 0, False
        if len(self.lookahead) >= wanted:
            return wanted, False
        limit = max(_LOOKAHEAD_MIN, _LOOKAHEAD_PER_WORKER * self.policy.concurrency)
        self.lookahead = deque(
            sending.due_ids(
                self.engine,
                limit,
                business_now=self._business_clock(),
                real_now=self._real_now(),
                campaign=self.campaign,
                channels=self.channels,
            )
        )
        return wanted, True

    def _write(self, results: list[_Result], wanted: int) -> list[dict]:
        """Record the answers and claim `wanted` rows, in one transaction; then count the answers,
        so a count never runs ahead of the ledger."""
        if not results and not wanted:
            return []
        settlement = self._settlement(results)
        with self.engine.begin() as conn:
            self._apply(conn, settlement)
            if self.daily_cap is None:
                rows = self._claim(conn, wanted)
            else:
                untaken = [i for i, *_ in settlement.retry + settlement.failed] + settlement.released
                returned = self.daily_cap.capped_among(self.in_flight[i] for i in untaken)
                rows = self.daily_cap.claim(conn, wanted, returned, lambda limit: self._claim(conn, limit))
        self.unwritten = []
        for result in results:
            del self.in_flight[result.row["id"]]
            self.handed.discard(result.row["id"])
        self.in_flight.update((row["id"], row) for row in rows)
        self._count(results, settlement)
        return rows

    def _settlement(self, results: list[_Result]) -> _Settlement:
        settlement = _Settlement([], [], [], [], [])
        real_now = self._real_now()
        for result in results:
            row_id, attempts, outcome = result.row["id"], result.row["attempts"], result.outcome
            if result.unknown:
                settlement.unknown.append((row_id, result.problem))
            elif result.problem is not None:
                settlement.failed.append((row_id, result.problem))
            elif outcome is None:
                settlement.released.append(row_id)
            elif outcome.status == "sent":
                settlement.sent.append((row_id, outcome.provider_message_id))
            elif outcome.status == "unknown":
                settlement.unknown.append((row_id, outcome.error))
            elif outcome.status == "retry" and attempts < self.policy.max_attempts:
                settlement.retry.append((row_id, outcome.error or "retry", real_now + self.policy.backoff(attempts, outcome, self.rng)))
            elif outcome.status == "retry":
                settlement.failed.append((row_id, f"gave up after {attempts} attempts; the last: {outcome.error}"))
            else:
                settlement.failed.append((row_id, outcome.error or "the transport refused the message"))
        return settlement

    def _apply(self, conn: sa.Connection, settlement: _Settlement) -> None:
        sending.mark_sent(conn, settlement.sent, self._business_clock(), owner=self.owner)
        sending.mark_retry(conn, settlement.retry, owner=self.owner)
        sending.mark_failed(conn, settlement.failed, owner=self.owner)
        sending.mark_unknown(conn, settlement.unknown, owner=self.owner)
        sending.release(conn, self.owner, settlement.released)

    def _claim(self, conn: sa.Connection, wanted: int) -> list[dict]:
        rows: list[dict] = []
        while len(rows) < wanted and self.lookahead:
            needed = wanted - len(rows)
            among = [self.lookahead.popleft() for _ in range(min(_SLICE_FACTOR * needed, len(self.lookahead)))]
            claimed = sending.claim(
                conn,
                self.owner,
                needed,
                business_now=self._business_clock(),
                real_now=self._real_now(),
                campaign=self.campaign,
                among=among,
            )
            if len(claimed) == needed:
                # The limit stopped the claim: the ids after the last one claimed are still candidates.
                last = max(among.index(row["id"]) for row in claimed)
                self.lookahead.extendleft(reversed(among[last + 1 :]))
            rows += claimed
        return rows

    def _follow_the_cap(self) -> bool:
        """Claim only the channels the daily cap does not count while it is spent, every channel
        again once allowance came back; True when that changed (the look-ahead is read afresh)."""
        claimable = channels.uncapped() if self.daily_cap.spent else None
        if claimable == self.channels:
            return False
        self.channels = claimable
        if claimable is not None:
            log.info("the daily cap of %d emails is spent: only %s are claimed now", self.daily_cap.cap,
                     ", ".join(claimable))  # fmt: skip
        self.lookahead.clear()
        self.next_claim_at = 0.0
        return True

    def _nothing_due_now(self) -> None:
        """Look again soon; with nothing in flight either, wait for a retry due soon, or finish."""
        self.next_claim_at = time.monotonic() + _POLL_S
        if self.in_flight:
            return
        if self.more_coming is not None:
            if self.more_coming():
                self.next_claim_at = time.monotonic() + _AWAIT_RENDER_S
                return
            # Over: the last look may have come before its last rows were stored. Look once more.
            self.more_coming, self.next_claim_at = None, 0.0
            return
        retry_at = sending.next_retry_at(
            self.engine, business_now=self._business_clock(), campaign=self.campaign, channels=self.channels
        )
        if retry_at is not None:
            wait_s = (retry_at - self._real_now()).total_seconds()
            if wait_s <= self.policy.wait_for_retries_s:
                self.next_claim_at = time.monotonic() + min(_POLL_S, max(0.0, wait_s))
                return
        # Suppressions, stops and answers recorded during the run can hide due messages from
        # the look-ahead: settle them, and look again if there were any.
        suppressed = sending.suppress_due(self.engine, self.business_now, self.campaign)
        cancelled = sending.cancel_stopped_due(self.engine, self.business_now, self.campaign)
        answered = stop_rules.cancel_answered_due(self.engine, self.business_now, self.campaign)
        if suppressed or cancelled or answered:
            self.report.suppressed += suppressed
            self.report.cancelled += cancelled + answered
            self.next_claim_at = 0.0
            return
        self.halted.set()

    def _count(self, results: list[_Result], settlement: _Settlement) -> None:
        report = self.report
        report.sent += len(settlement.sent)
        report.failed += len(settlement.failed)
        report.unknown += len(settlement.unknown)
        report.released += len(settlement.released)
        report.requests += sum(1 for r in results if r.outcome is not None or r.unknown)
        self.waiting -= {i for i, _ in settlement.sent} | {i for i, _ in settlement.failed}
        self.waiting -= {i for i, _ in settlement.unknown}
        self.waiting |= {i for i, _, _ in settlement.retry}
        failures = dict(settlement.failed)
        for result in results:
            error = result.problem or (result.outcome.error if result.outcome is not None else None)
            if error:
                report.errors[_label(error)] += 1
            if result.row["id"] in failures:
                self._failed_in_a_row(failures[result.row["id"]])
            elif result.outcome is not None and result.outcome.status == "sent":
                self.consecutive_failures = 0

    def _failed_in_a_row(self, error: str) -> None:
        self.consecutive_failures += 1
        limit = self.policy.pause_after_consecutive_failures
        if not limit or self.consecutive_failures < limit or self.report.paused:
            return
        self.report.paused = True
        self.report.pause_reason = (
            f"paused after {self.consecutive_failures} messages in a row failed; the last: {error}"
        )
        log.error("%s. Nothing more is claimed: fix the cause, then send again.", self.report.pause_reason)
        self.halted.set()

    def _wind_down(self) -> None:
        """After an error in the coordinator (a second Ctrl-C among them): no more claims; let
        the sends in flight finish and record every answer. What cannot be recorded stays
        `sending` until recover_dead_claims settles it, once this process has ended."""
        self.halted.set()
        for inbox in self.idle:
            inbox.put(None)
        self.workers_left -= len(self.idle)
        self.idle.clear()
        results = list(self.unwritten)
        while self.workers_left:
            result, inbox = self.answers.get()
            inbox.put(None)
            self.workers_left -= 1
            if result is not None:
                results.append(result)
        # Every worker has finished: a claimed row without an answer that never reached the
        # transport can go back. One that did lost its answer to the interruption: it stays.
        answered = {result.row["id"] for result in results}
        results += [
            _Result(row, None)
            for row_id, row in self.in_flight.items()
            if row_id not in answered and row_id not in self.handed
        ]
        try:
            self._write(results, 0)
        except Exception:
            log.exception(
                "could not record %d answers; their messages stay 'sending' until `followup reconcile` "
                "settles them after this process has ended",
                len(results),
            )

    # --- the workers ---

    def _work(self) -> None:
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.answers.put((None, inbox))
        while (row := inbox.get()) is not None:
            self.answers.put((self._deliver(row), inbox))

    def _deliver(self, row: dict) -> _Result:
        try:
            envelope = self.envelope_for(row)
            problem = check_limits(envelope)
        except Exception as exc:  # a message that cannot be built fails alone
            return _Result(row, None, f"could not build the email: {type(exc).__name__}: {exc}")
        if problem is not None:
            return _Result(row, None, problem)
        if self.halted.is_set():
            return _Result(row, None)
        self.handed.add(row["id"])
        try:
            outcome = self.transport.send(envelope)
        except Exception as exc:  # transports classify, never raise; one that does may have sent
            log.exception("the %s transport raised for %s", self.transport.name, row["message_key"])
            return _Result(row, None, f"the {self.transport.name} transport raised {type(exc).__name__}: {exc}", True)
        return _Result(row, outcome)


def _label(error: str) -> str:
    """'HTTP 503: {...}' -> 'HTTP 503'; other errors by their first words."""
    if error.startswith("HTTP "):
        return error.split(":", 1)[0]
    return error[:_ERROR_LABEL_LENGTH]
