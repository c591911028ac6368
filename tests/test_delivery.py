"""The sender and its ledger SQL: each message reaches the provider exactly once, or is left for a person."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from followup.sending import SendPolicy, send_due
from followup.sending.setup import EmailSetup, SendSetup
from followup.models import Batch, Candidate, Event, Message, Suppression
from followup.sandbox import Sandbox, SandboxConfig
from followup.stages.sending import send_stage
from followup.store import dialect, open_ledger, recovery, sending
from followup.store.owners import Owner, owner_is_alive
from followup.transports import Envelope, SendOutcome
from followup.transports.memory import MemoryTransport
from followup.transports.sendgrid import SendGridTransport

# The business clock of these tests is far from the real one, so a mix-up of the two shows.
BUSINESS_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
FAST = SendPolicy(concurrency=8, base_backoff_s=0.02, max_backoff_s=0.1)


def seed(engine, n: int, *, start: int = 0, campaign: str = "nov", scheduled_for=None, emails=None) -> list[str]:
    """`n` rendered messages, one per new candidate; returns their message keys."""
    scheduled_for = scheduled_for or BUSINESS_NOW - timedelta(hours=1)
    ids = [f"c{start + i:05d}" for i in range(n)]
    with engine.begin() as conn:
        if conn.execute(sa.select(Batch.id)).first() is None:
            conn.execute(sa.insert(Batch), [{"id": "b1", "source_name": "round.csv", "file_sha256": "0" * 64,
                                             "status": "imported"}])  # fmt: skip
        conn.execute(sa.insert(Candidate), [
            {"candidate_id": cid, "email": (emails or {}).get(i, f"{cid}@example.com"), "first_name": "Ana",
             "last_name": "Silva", "channel": "email", "first_batch_id": "b1", "last_batch_id": "b1"}
            for i, cid in enumerate(ids)
        ])  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": f"{campaign}:{cid}:offer:0:email", "campaign": campaign, "candidate_id": cid,
             "kind": "offer", "step": 0, "channel": "email", "status": "rendered", "subject": "Your offer",
             "text_body": "Dear Ana,\nwe are glad to offer you the role.", "scheduled_for": scheduled_for}
            for cid in ids
        ])  # fmt: skip
    return [f"{campaign}:{cid}:offer:0:email" for cid in ids]


def envelope_for(row: dict) -> Envelope:
    args = {k: str(row[k]) for k in ("message_key", "campaign", "candidate_id", "kind", "step", "channel")}
    return Envelope(
        message_key=row["message_key"],
        to_email=row["email"],
        to_name=f"{row['first_name']} {row['last_name']}",
        from_email="jobs@acme.example",
        from_name="Acme Recruiting",
        reply_to=row["recruiter_email"],
        subject=row["subject"],
        text=row["text_body"],
        html=row["html_body"],
        custom_args=args,
    )


def rows(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r.message_key: dict(r._mapping) for r in conn.execute(sa.select(Message.__table__))}


def statuses(engine) -> Counter:
    return Counter(row["status"] for row in rows(engine).values())


def fast_clock(speed: float = 25.0):
    """A real clock running `speed` times faster: seconds of backoff pass in milliseconds."""
    origin = time.time()
    return lambda: origin + (time.time() - origin) * speed


class Scripted:
    """Answers each message_key from its own script of outcomes; the last one repeats."""

    name = "scripted"

    def __init__(self, scripts: dict[str, list[SendOutcome]], default: SendOutcome | None = None, delay: float = 0):
        self.scripts = scripts
        self.default = default or SendOutcome.sent("pm")
        self.delay = delay
        self.calls: Counter = Counter()
        self._lock = threading.Lock()

    def send(self, envelope: Envelope) -> SendOutcome:
        time.sleep(self.delay)
        with self._lock:
            n = self.calls[envelope.message_key]
            self.calls[envelope.message_key] += 1
        script = self.scripts.get(envelope.message_key, [self.default])
        outcome = script[min(n, len(script) - 1)]
        if outcome.status == "sent":
            return SendOutcome.sent(f"pm-{envelope.message_key}-{n}")
        return outcome

    def close(self) -> None:
        pass


def run(engine, transport, policy=FAST, **kwargs):
    kwargs.setdefault("business_now", BUSINESS_NOW)
    kwargs.setdefault("owner", Owner.current())
    return send_due(engine, transport, kwargs.pop("envelope_for", envelope_for), policy=policy, **kwargs)


# --- exactly once, against the SendGrid-compatible sandbox ---


def test_every_message_reaches_the_sandbox_exactly_once_through_500s_and_429_bursts(ledger_url):
    engine = open_ledger(ledger_url)
    keys = seed(engine, 300)
    config = SandboxConfig(latency_ms=5, error_rate=0.1, burst_429_every=60, burst_429_length=6, seed=7)
    with Sandbox(config) as sandbox:
        transport = SendGridTransport(config.api_key, host=sandbox.url, pool_size=16)
        policy = SendPolicy(concurrency=16, base_backoff_s=0.05, max_backoff_s=0.5, max_attempts=30)
        report = run(engine, transport, policy, real_clock=fast_clock())
        transport.close()
        accepted = sandbox.messages()
        answers = sandbox.stats()["answers"]

    delivered = Counter(m["body"]["custom_args"]["message_key"] for m in accepted)
    assert delivered == Counter(keys)  # each key exactly once
    assert int(answers["429"]) > 0 and int(answers.get("500", 0)) + int(answers.get("503", 0)) > 0
    assert report.sent == 300 and report.failed == report.unknown == report.retry_wait == 0
    assert report.errors["HTTP 429"] == int(answers["429"])
    assert report.requests == sum(int(count) for count in answers.values())
    ledger = rows(engine)
    ids_by_key = {m["body"]["custom_args"]["message_key"]: m["x_message_id"] for m in accepted}
    assert {k: r["provider_message_id"] for k, r in ledger.items()} == ids_by_key
    assert all(r["status"] == "sent" and r["last_error"] is None for r in ledger.values())
    assert sum(r["attempts"] for r in ledger.values()) == report.requests


def test_the_ledger_never_holds_more_claims_than_requests_in_flight(ledger_url):
    engine = open_ledger(ledger_url)
    seed(engine, 60)
    seen: list[int] = []

    class Watching(Scripted):
        def send(self, envelope):
            with engine.connect() as conn:
                seen.append(conn.execute(sa.text("SELECT count(*) FROM messages WHERE status = 'sending'")).scalar())
            return super().send(envelope)

    report = run(engine, Watching({}, delay=0.005), SendPolicy(concurrency=4))
    assert report.sent == 60
    assert max(seen) <= 4 and len(seen) == 60


# --- answers: sent, retry, failed ---


def test_a_retryable_answer_is_retried_and_a_permanent_one_fails_with_the_providers_words(ledger_url):
    engine = open_ledger(ledger_url)
    flaky, refused, hopeless = seed(engine, 3)
    transport = Scripted({
        flaky: [SendOutcome.retry("HTTP 503: unavailable"), SendOutcome.retry("HTTP 500: oops"), SendOutcome.sent("x")],
        refused: [SendOutcome.failed('HTTP 400: {"errors": [{"message": "bad from", "field": "from"}]}')],
        hopeless: [SendOutcome.retry("HTTP 503: unavailable")],
    })  # fmt: skip
    report = run(engine, transport, SendPolicy(concurrency=2, base_backoff_s=0.02, max_attempts=4))

    ledger = rows(engine)
    assert ledger[flaky]["status"] == "sent" and ledger[flaky]["attempts"] == 3
    assert ledger[flaky]["provider_message_id"] == f"pm-{flaky}-2"
    assert ledger[refused]["status"] == "failed" and ledger[refused]["attempts"] == 1
    assert ledger[refused]["last_error"] == 'HTTP 400: {"errors": [{"message": "bad from", "field": "from"}]}'
    assert ledger[hopeless]["status"] == "failed" and ledger[hopeless]["attempts"] == 4
    assert ledger[hopeless]["last_error"] == "gave up after 4 attempts; the last: HTTP 503: unavailable"
    assert transport.calls == Counter({flaky: 3, refused: 1, hopeless: 4})
    assert (report.sent, report.failed, report.retry_wait) == (1, 2, 0)
    assert report.errors == Counter({"HTTP 503": 5, "HTTP 500": 1, "HTTP 400": 1})


def test_backoff_runs_on_the_real_clock_never_before_the_providers_reset(ledger_url):
    engine = open_ledger(ledger_url)
    limited, jittered = seed(engine, 2)
    transport = Scripted({
        limited: [SendOutcome.retry("HTTP 429: too many requests", retry_after=30.0), SendOutcome.sent("x")],
        jittered: [SendOutcome.retry("HTTP 503: unavailable"), SendOutcome.sent("x")],
    })  # fmt: skip
    policy = SendPolicy(concurrency=2, base_backoff_s=20.0, wait_for_retries_s=0.0)
    real_before = datetime.now(timezone.utc)
    report = run(engine, transport, policy)

    ledger = rows(engine)
    assert report.retry_wait == 2 and report.sent == 0
    assert {ledger[k]["status"] for k in (limited, jittered)} == {"retry_wait"}
    waits = {k: dialect.aware(ledger[k]["next_attempt_at"]) - real_before for k in (limited, jittered)}
    assert timedelta(seconds=30) <= waits[limited] < timedelta(seconds=35)
    assert timedelta(0) <= waits[jittered] < timedelta(seconds=25)  # full jitter under base_backoff_s

    # The business clock does not make a retry due; only real time passing does.
    later_business = run(engine, transport, policy, business_now=BUSINESS_NOW + timedelta(days=3))
    assert later_business.sent == 0
    an_hour_later = time.time() + 3600
    later_real = run(engine, transport, policy, real_clock=lambda: an_hour_later)
    assert later_real.sent == 2
    sent_at = dialect.aware(rows(engine)[limited]["sent_at"])
    assert BUSINESS_NOW <= sent_at < BUSINESS_NOW + timedelta(minutes=1)  # sent_at is on the business clock


def test_retries_due_soon_are_sent_within_the_same_run(ledger_url):
    engine = open_ledger(ledger_url)
    (key,) = seed(engine, 1)
    transport = Scripted({key: [SendOutcome.retry("HTTP 429: slow down", retry_after=2.0), SendOutcome.sent("x")]})
    started = time.monotonic()
    report = run(engine, transport, SendPolicy(concurrency=1), real_clock=fast_clock(speed=40))
    assert report.sent == 1 and rows(engine)[key]["attempts"] == 2
    assert time.monotonic() - started < 5


def test_a_message_whose_email_cannot_be_built_fails_alone_and_is_never_sent(ledger_url):
    engine = open_ledger(ledger_url)
    good, numeric, broken = seed(engine, 3)

    def build(row):
        envelope = envelope_for(row)
        if row["message_key"] == numeric:
            return Envelope(**{**envelope.__dict__, "custom_args": {**envelope.custom_args, "step": 0}})
        if row["message_key"] == broken:
            raise KeyError("recruiter_phone")
        return envelope

    transport = MemoryTransport()
    report = run(engine, transport, envelope_for=build)
    ledger = rows(engine)
    assert [e.message_key for e in transport.outbox] == [good]
    assert ledger[numeric]["status"] == "failed" and "custom_args" in ledger[numeric]["last_error"]
    assert ledger[broken]["status"] == "failed"
    assert ledger[broken]["last_error"] == "could not build the email: KeyError: 'recruiter_phone'"
    assert (report.sent, report.failed, report.requests) == (1, 2, 1)


def test_a_transport_that_raises_leaves_the_message_unknown_not_resent(ledger_url):
    engine = open_ledger(ledger_url)
    (key,) = seed(engine, 1)

    class Exploding(Scripted):
        def send(self, envelope):
            super().send(envelope)
            raise ConnectionResetError("peer went away mid-answer")

    transport = Exploding({})
    report = run(engine, transport)
    again = run(engine, transport)
    assert report.unknown == 1 and again.requests == 0 and transport.calls[key] == 1
    assert rows(engine)[key]["status"] == "unknown"
    assert "ConnectionResetError" in rows(engine)[key]["last_error"]


def test_a_request_that_went_out_without_an_answer_is_unknown_at_once_and_never_resent(ledger_url):
    engine = open_ledger(ledger_url)
    lost, answered = seed(engine, 2)
    transport = Scripted({lost: [SendOutcome.unknown("no answer within 0.2s (SendGrid may have accepted the message)")]})

    report = run(engine, transport)
    an_hour_later = time.time() + 3600
    later = run(engine, transport, real_clock=lambda: an_hour_later)  # a later sweep: every backoff is over

    ledger = rows(engine)
    assert (report.sent, report.unknown, report.retry_wait, report.failed) == (1, 1, 0, 0)
    assert ledger[lost]["status"] == "unknown" and "0.2s" in ledger[lost]["last_error"]
    assert ledger[answered]["status"] == "sent"
    assert later.requests == 0 and transport.calls[lost] == 1


# --- what is due, and what is never sent ---


def test_only_due_rows_are_claimed_and_a_sent_row_is_never_claimed_again(ledger_url):
    engine = open_ledger(ledger_url)
    due = seed(engine, 5)
    future = seed(engine, 2, start=100, scheduled_for=BUSINESS_NOW + timedelta(days=1))
    other_campaign = seed(engine, 2, start=200, campaign="dec")
    parked = seed(engine, 5, start=300)
    with engine.begin() as conn:
        for key, status in zip(parked, ("sent", "failed", "unknown", "cancelled", "planned")):
            conn.execute(sa.update(Message).where(Message.message_key == key).values(status=status))
    transport = MemoryTransport()

    first = run(engine, transport, campaign="nov")
    again = run(engine, transport, campaign="nov")
    assert sorted(e.message_key for e in transport.outbox) == sorted(due)
    assert (first.sent, again.sent, again.requests) == (5, 0, 0)

    run(engine, transport, business_now=BUSINESS_NOW + timedelta(days=2))
    assert sorted(e.message_key for e in transport.outbox) == sorted(due + future + other_campaign)
    assert statuses(engine) == Counter({"sent": 10, "failed": 1, "unknown": 1, "cancelled": 1, "planned": 1})


def test_suppressed_addresses_are_never_sent_and_say_why(ledger_url):
    engine = open_ledger(ledger_url)
    emails = {0: "Bounced.Person@example.com", 1: "complained@example.com"}
    bounced, complained, fine = seed(engine, 3, emails=emails)
    with engine.begin() as conn:
        conn.execute(sa.insert(Suppression), [
            {"email": "bounced.person@example.com", "reason": "bounce"},  # as SendGrid reports it
            {"email": "complained@example.com", "reason": "spamreport"},
        ])  # fmt: skip
    transport = MemoryTransport()
    report = run(engine, transport)

    ledger = rows(engine)
    assert [e.message_key for e in transport.outbox] == [fine]
    assert (ledger[bounced]["status"], ledger[bounced]["last_error"]) == ("suppressed", "suppressed: bounce")
    assert (ledger[complained]["status"], ledger[complained]["last_error"]) == ("suppressed", "suppressed: spamreport")
    assert (report.sent, report.suppressed) == (1, 2)


def test_a_suppression_recorded_after_the_run_began_still_stops_the_claim(ledger_url):
    engine = open_ledger(ledger_url)
    late, other = seed(engine, 2)
    with engine.begin() as conn:
        conn.execute(sa.insert(Suppression).values(email=f"{late.split(':')[1]}@example.com", reason="unsubscribe"))
    now = datetime.now(timezone.utc)
    claimed = sending.claim(engine, Owner.current(), 10, business_now=BUSINESS_NOW, real_now=now)
    assert [row["message_key"] for row in claimed] == [other]
    assert sending.suppress_due(engine, BUSINESS_NOW) == 1
    assert rows(engine)[late]["status"] == "suppressed"


def test_a_wave_of_suppressions_mid_run_does_not_end_the_run_early(ledger_url):
    engine = open_ledger(ledger_url)
    keys = seed(engine, 1200)
    wave = [{"email": f"c{i:05d}@example.com", "reason": "bounce"} for i in range(10, 1110)]

    def build(row):
        if row["message_key"] == keys[0]:
            with engine.begin() as conn:
                conn.execute(sa.insert(Suppression), wave)
        return envelope_for(row)

    transport = MemoryTransport()
    report = run(engine, transport, SendPolicy(concurrency=2), envelope_for=build)
    assert sorted(e.message_key for e in transport.outbox) == keys[:10] + keys[1110:]
    assert (report.sent, report.suppressed) == (100, 1100)


def test_two_senders_at_once_never_send_the_same_message(ledger_url):
    engine = open_ledger(ledger_url)
    keys = seed(engine, 300)
    transport = Scripted({}, delay=0.003)
    reports = {}

    def sender(name: str, pid: int) -> None:
        owner = Owner(socket.gethostname(), pid, time.time())
        reports[name] = run(engine, transport, SendPolicy(concurrency=8), owner=owner)

    threads = [threading.Thread(target=sender, args=(name, pid)) for name, pid in (("a", 1), ("b", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert transport.calls == Counter(dict.fromkeys(keys, 1))
    assert reports["a"].sent + reports["b"].sent == 300
    assert reports["a"].sent > 0 and reports["b"].sent > 0  # they really did compete
    assert statuses(engine) == Counter({"sent": 300})


# --- stopping: pause, stop, release ---


def test_a_run_pauses_after_consecutive_failures_and_leaves_the_rest_untouched(ledger_url):
    engine = open_ledger(ledger_url)
    seed(engine, 40)
    transport = Scripted({}, default=SendOutcome.failed("HTTP 401: The provided authorization grant is invalid"))
    policy = SendPolicy(concurrency=2, pause_after_consecutive_failures=5)
    report = run(engine, transport, policy)

    assert report.paused
    assert report.pause_reason.startswith("paused after 5 messages in a row failed")
    assert "HTTP 401" in report.pause_reason
    counts = statuses(engine)
    assert 5 <= counts["failed"] == report.failed <= 5 + 2 * policy.concurrency
    assert counts["rendered"] == 40 - counts["failed"] and counts["sending"] == 0


def test_successes_in_between_keep_a_run_from_pausing(ledger_url):
    engine = open_ledger(ledger_url)
    keys = seed(engine, 20)
    bad = SendOutcome.failed("HTTP 400: bad address")
    transport = Scripted({key: [bad] for key in keys[::2]})
    report = run(engine, transport, SendPolicy(concurrency=1, pause_after_consecutive_failures=2))
    assert not report.paused and (report.sent, report.failed) == (10, 10)


def test_ctrl_c_releases_claims_that_never_reached_the_transport_then_interrupts(ledger_url, caplog):
    engine = open_ledger(ledger_url)
    seed(engine, 10)
    transport = MemoryTransport()
    first = threading.Lock()
    stopped = threading.Event()

    class Stopped(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("asked to stop"):
                stopped.set()

    def held_build(row):
        if first.acquire(blocking=False):
            signal.raise_signal(signal.SIGINT)  # Ctrl-C while the first claims are being built
        # Each build ends only once the coordinator has seen the Ctrl-C and stopped sending.
        assert stopped.wait(60), "the coordinator never saw the Ctrl-C"
        return envelope_for(row)

    caplog.set_level(logging.INFO, logger="followup.sending.loop")
    watcher = Stopped()
    logging.getLogger("followup.sending.loop").addHandler(watcher)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(engine, transport, SendPolicy(concurrency=4), envelope_for=held_build)
    finally:
        logging.getLogger("followup.sending.loop").removeHandler(watcher)
    assert transport.outbox == []
    ledger = rows(engine).values()
    assert {(r["status"], r["attempts"], r["claimed_by"]) for r in ledger} == {("rendered", 0, None)}


def _failing_mark_sent(monkeypatch, *, first: int, last: float = float("inf")) -> Counter:
    """sending.mark_sent raises the database's error from its `first` call to its `last`."""
    writes = Counter()
    mark_sent = sending.mark_sent

    def failing(*args, **kwargs):
        writes["mark_sent"] += 1
        if first <= writes["mark_sent"] <= last:
            raise sa.exc.OperationalError("UPDATE messages ...", {}, Exception("disk I/O error"))
        return mark_sent(*args, **kwargs)

    monkeypatch.setattr(sending, "mark_sent", failing)
    return writes


def test_a_ledger_error_mid_run_is_waited_out_and_every_send_recorded_once(ledger_url, monkeypatch):
    engine = open_ledger(ledger_url)
    seed(engine, 60)
    writes = _failing_mark_sent(monkeypatch, first=3, last=4)
    transport = Scripted({}, delay=0.01)
    report = run(engine, transport, SendPolicy(concurrency=4))

    ledger = rows(engine)
    assert writes["mark_sent"] > 4  # it failed twice, and the run went on writing
    assert report.sent == 60 and sorted(transport.calls) == sorted(ledger)  # each message handed over once
    assert {r["status"] for r in ledger.values()} == {"sent"}


def test_a_ledger_gone_longer_than_the_run_waits_ends_it_with_no_more_claimed_than_in_flight(ledger_url, monkeypatch):
    engine = open_ledger(ledger_url)
    seed(engine, 60)
    _failing_mark_sent(monkeypatch, first=3)
    transport = Scripted({}, delay=0.01)
    with pytest.raises(sa.exc.OperationalError):
        run(engine, transport, SendPolicy(concurrency=4, ledger_outage_s=0.3))

    ledger = rows(engine)
    sent = {k for k, r in ledger.items() if r["status"] == "sent"}
    assert sent < set(transport.calls) and 0 < len(transport.calls) < 60
    # What went out and could not be recorded stays claimed for recovery, never released to be sent again.
    claimed = {k for k, r in ledger.items() if r["status"] == "sending"}
    assert claimed == set(transport.calls) - sent and len(claimed) <= 4
    assert {r["status"] for r in ledger.values()} == {"sent", "sending", "rendered"}


def test_ctrl_c_mid_run_finishes_the_sends_in_flight_and_leaves_nothing_claimed(ledger_url):
    engine = open_ledger(ledger_url)
    keys = seed(engine, 80)
    transport = Scripted({}, delay=0.01)

    def build(row):
        if row["message_key"] == keys[20]:
            signal.raise_signal(signal.SIGINT)  # lands in the coordinator, wherever it is
        return envelope_for(row)

    with pytest.raises(KeyboardInterrupt):
        run(engine, transport, SendPolicy(concurrency=4), envelope_for=build)

    ledger = rows(engine)
    assert {k for k, r in ledger.items() if r["status"] == "sent"} == set(transport.calls)
    assert 0 < len(transport.calls) < 80
    assert {r["status"] for r in ledger.values()} == {"sent", "rendered"}


def test_release_returns_only_the_owners_own_claims(ledger_url):
    engine = open_ledger(ledger_url)
    seed(engine, 3)
    mine, theirs = Owner("here", 1, 1.0), Owner("here", 2, 2.0)
    claimed = sending.claim(engine, mine, 2, business_now=BUSINESS_NOW, real_now=datetime.now(timezone.utc))
    ids = [row["id"] for row in claimed]
    assert sending.release(engine, theirs, ids) == 0
    assert sending.mark_sent(engine, [(ids[0], "pm")], BUSINESS_NOW, owner=theirs) == 0
    assert sending.release(engine, mine, ids) == 2
    assert statuses(engine) == Counter({"rendered": 3})
    assert {r["attempts"] for r in rows(engine).values()} == {0}


def test_a_rate_limit_spaces_the_requests(ledger_url):
    engine = open_ledger(ledger_url)
    seed(engine, 30)
    started = time.monotonic()
    report = run(engine, MemoryTransport(), SendPolicy(concurrency=8, rate_per_s=100))
    # A bucket of a tenth of a second's worth: the other 20 need at least 0.2 s.
    assert report.sent == 30 and time.monotonic() - started >= 0.19


# --- after a crash ---


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_owner_liveness_checks_pid_and_start_time():
    me = Owner.current()
    assert owner_is_alive(str(me))
    assert not owner_is_alive(str(Owner(me.host, me.pid, me.started_at - 3600)))  # the pid was recycled
    assert not owner_is_alive(str(Owner(me.host, _dead_pid(), me.started_at)))
    assert owner_is_alive(str(Owner("another-host", 1, 0.0)))  # cannot be checked from here
    assert Owner.parse(str(me)) == Owner(me.host, me.pid, round(me.started_at, 2))


def test_recovery_settles_dead_claims_from_events_or_as_unknown_and_spares_the_living(ledger_url):
    engine = open_ledger(ledger_url)
    keys = seed(engine, 6)
    here, now = socket.gethostname(), datetime.now(timezone.utc)
    dead, alive = Owner(here, _dead_pid(), time.time()), Owner.current()
    far_away = Owner("another-host", 4242, time.time())
    holders = [dead, dead, alive, far_away, far_away, None]
    claimed_at = [now, now, now, now - timedelta(hours=2), now, None]
    with engine.begin() as conn:
        for key, owner, at in zip(keys, holders, claimed_at):
            if owner is not None:
                conn.execute(sa.update(Message).where(Message.message_key == key).values(
                    status="sending", claimed_by=str(owner), claimed_at=at, attempts=1))  # fmt: skip
        conn.execute(sa.insert(Event), [
            {"sg_event_id": "e1", "message_key": keys[0], "provider_message_id": "XMSGID.filter0001.1.0",
             "event": "processed", "occurred_at": now - timedelta(seconds=5), "payload": {}},
            {"sg_event_id": "e2", "message_key": keys[0], "provider_message_id": "XMSGID.filter0001.1.0",
             "event": "delivered", "occurred_at": now - timedelta(seconds=3), "payload": {}},
        ])  # fmt: skip

    result = recovery.recover_dead_claims(engine)
    ledger = rows(engine)
    assert result == {"sent": 1, "unknown": 2, "alive": 2}
    assert ledger[keys[0]]["status"] == "sent" and ledger[keys[0]]["provider_message_id"] == "XMSGID"
    assert abs(dialect.aware(ledger[keys[0]]["sent_at"]) - (now - timedelta(seconds=5))) < timedelta(seconds=1)
    assert ledger[keys[1]]["status"] == "unknown" and str(dead) in ledger[keys[1]]["last_error"]
    assert ledger[keys[2]]["status"] == "sending"  # its owner is this very process
    assert ledger[keys[3]]["status"] == "unknown"  # another host's claim, two hours old
    assert ledger[keys[4]]["status"] == "sending"  # another host's fresh claim
    assert ledger[keys[5]]["status"] == "rendered"

    # A person's part: see what is unknown, settle what events have since proven, resend the rest.
    assert [u["message_key"] for u in recovery.unknown_messages(engine)] == [keys[3], keys[1]]
    with engine.begin() as conn:
        conn.execute(sa.insert(Event).values(sg_event_id="e3", message_key=keys[3], provider_message_id="LATE.x",
                                             event="delivered", occurred_at=now, payload={}))  # fmt: skip
    assert recovery.reconcile_unknown(engine) == 1
    assert recovery.resend_unknown(engine, [u["id"] for u in recovery.unknown_messages(engine)]) == 1
    transport = MemoryTransport()
    run(engine, transport)
    assert sorted(e.message_key for e in transport.outbox) == sorted([keys[1], keys[5]])
    assert rows(engine)[keys[3]]["provider_message_id"] == "LATE"


def test_only_events_that_show_sendgrid_took_a_message_settle_its_unknown_fate(ledger_url):
    engine = open_ledger(ledger_url)
    kinds = ("processed", "delivered", "deferred", "bounce", "open", "dropped")
    keys = dict(zip(kinds, seed(engine, len(kinds))))
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(sa.update(Message).values(status="unknown", attempts=1))
        conn.execute(sa.insert(Event), [
            {"sg_event_id": f"e-{kind}", "message_key": key, "provider_message_id": f"{kind.upper()}.filter0001.1.0",
             "event": kind, "occurred_at": now, "payload": {}}
            for kind, key in keys.items()
        ])  # fmt: skip

    assert recovery.reconcile_unknown(engine) == 4
    ledger = rows(engine)
    settled = {kind: (ledger[key]["status"], ledger[key]["provider_message_id"]) for kind, key in keys.items()}
    assert settled == {
        "processed": ("sent", "PROCESSED"), "delivered": ("sent", "DELIVERED"), "deferred": ("sent", "DEFERRED"),
        "bounce": ("sent", "BOUNCE"), "open": ("unknown", None), "dropped": ("unknown", None),
    }  # fmt: skip
    assert [u["message_key"] for u in recovery.unknown_messages(engine)] == [keys["open"], keys["dropped"]]


# --- the daily cap: every sender together ---


def capped_setup(ledger_url: str, tmp_path, cap: int, policy: SendPolicy) -> SendSetup:
    return SendSetup(
        ledger_url=ledger_url,
        email=EmailSetup(outbox_dir=tmp_path / "outbox"),
        call_sheet_dir=tmp_path / "call_sheets",
        from_email="jobs@acme.example",
        policy=policy,
        daily_cap=cap,
        company_timezone="Europe/Berlin",
    )


def test_two_send_stages_started_together_send_no_more_than_the_daily_cap(ledger_url, tmp_path):
    engine = open_ledger(ledger_url)
    seed(engine, 20)
    setup = capped_setup(ledger_url, tmp_path, 5, SendPolicy(concurrency=4))
    transport = Scripted({}, delay=0.05)
    together = threading.Barrier(2)
    reports = []

    def stage() -> None:
        together.wait()
        reports.append(send_stage(setup, business_now=BUSINESS_NOW, email=transport))

    threads = [threading.Thread(target=stage) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(transport.calls.values()) == 5 and set(transport.calls.values()) == {1}
    assert sum(report.sent for report in reports) == 5
    assert statuses(engine) == Counter({"sent": 5, "rendered": 15})
    # The same company day, later: the cap is spent for every sender.
    assert send_stage(setup, business_now=BUSINESS_NOW + timedelta(hours=3), email=transport).requests == 0
    assert send_stage(setup, business_now=BUSINESS_NOW + timedelta(days=1), email=transport).sent == 5


@pytest.mark.parametrize("answer", ["HTTP 429: too many requests", "HTTP 503: service unavailable"])
def test_a_429_or_5xx_gives_its_daily_allowance_back(ledger_url, tmp_path, answer):
    engine = open_ledger(ledger_url)
    refused, *others = seed(engine, 5)
    transport = Scripted({refused: [SendOutcome.retry(answer, retry_after=3600.0)]})  # not again this run
    setup = capped_setup(ledger_url, tmp_path, 3, SendPolicy(concurrency=1, wait_for_retries_s=0.0))

    report = send_stage(setup, business_now=BUSINESS_NOW, email=transport)

    assert report.sent == 3 and transport.calls[refused] == 1
    ledger = rows(engine)
    assert ledger[refused]["status"] == "retry_wait"
    assert [ledger[key]["status"] for key in others] == ["sent", "sent", "sent", "rendered"]
    assert send_stage(setup, business_now=BUSINESS_NOW + timedelta(hours=3), email=transport).requests == 0
