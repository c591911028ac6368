"""Drill: the ledger is unavailable for a few seconds in the middle of a send.

On PostgreSQL the sender's role (the drill's own) may not log in for a few seconds and its
sessions are ended, so every statement and every new connection fails meanwhile; on SQLite another
connection holds the database's exclusive lock as long. The run rides the outage out: it keeps
the answers that came in meanwhile, writes them once the ledger is back, and sends the rest.
Every message then went out once, and a sweep after it finds nothing left to do.
"""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from drillkit import backend, check_delivery, envelope_for, statuses
from followup.sandbox import Sandbox, SandboxConfig
from followup.sending import SendPolicy, send_due
from followup.store import open_ledger, recovery
from followup.store.owners import Owner
from followup.transports.sendgrid import SendGridTransport

pytestmark = pytest.mark.drill

MESSAGES = 300
CONCURRENCY = 8
OUTAGE_S = 3.0
POLICY = SendPolicy(concurrency=CONCURRENCY, base_backoff_s=0.05, max_backoff_s=0.5)


class Outage(threading.Thread):
    """Once the sandbox has accepted `after` messages, the ledger goes away for `seconds`."""

    def __init__(self, ledger_url: str, sandbox: Sandbox, after: int, admin: sa.URL | None = None,
                 seconds: float = OUTAGE_S) -> None:
        super().__init__(name="drill-outage", daemon=True)
        self.url = sa.make_url(ledger_url)
        self.sandbox = sandbox
        self.admin = admin  # PostgreSQL: who may shut the drill's role out
        self.after = after
        self.seconds = seconds
        self.started_at: float | None = None
        self.terminated = 0  # PostgreSQL: the sender's sessions ended
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + 60
            while self.sandbox.stats()["accepted"] < self.after and time.monotonic() < deadline:
                time.sleep(0.01)
            self.started_at = time.monotonic()
            if self.url.get_backend_name() == "sqlite":
                self._lock_sqlite()
            else:
                self._shut_out_postgresql()
        except BaseException as exc:  # re-raised by the test, in its own thread
            self.error = exc

    def _lock_sqlite(self) -> None:
        holder = sqlite3.connect(self.url.database, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            time.sleep(self.seconds)
            holder.execute("ROLLBACK")
        finally:
            holder.close()

    def _shut_out_postgresql(self) -> None:
        # The drill's own role may not log in, and its sessions are ended: every statement and
        # every new connection of the sender fails until the role may log in again. Nobody
        # else's connections are touched.
        role = self.url.username
        admin = sa.create_engine(self.admin)
        try:
            with admin.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(sa.text(f'ALTER ROLE "{role}" NOLOGIN'))
                try:
                    self.terminated = sum(conn.execute(sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"), {"role": role},
                    ).scalars())  # fmt: skip
                    time.sleep(self.seconds)
                finally:
                    conn.execute(sa.text(f'ALTER ROLE "{role}" LOGIN'))
        finally:
            admin.dispose()


def admin_url(ledger_url: str) -> sa.URL:
    """The suite's own PostgreSQL login (the ledger_url fixture's), outside the scratch schema."""
    return sa.make_url(ledger_url).difference_update_query(["options"])


@pytest.fixture
def drill_ledger(ledger_url):
    """The ledger URL, on PostgreSQL as a role of the drill's own (owning the scratch schema), so
    that an outage shuts out the drill's sender alone."""
    url = sa.make_url(ledger_url)
    if url.get_backend_name() == "sqlite":
        yield ledger_url
        return
    role = f"followup_drill_{uuid.uuid4().hex[:8]}"
    schema = url.query["options"].removeprefix("-csearch_path=")
    admin = sa.create_engine(admin_url(ledger_url))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(sa.text(f'ALTER SCHEMA "{schema}" OWNER TO "{role}"'))
    yield url.set(username=role).render_as_string(hide_password=False)
    from followup.store import close_ledgers

    close_ledgers()
    with admin.begin() as conn:
        conn.execute(sa.text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
        conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
        conn.execute(sa.text(f'DROP ROLE "{role}"'))
    admin.dispose()


def test_a_send_rides_out_a_ledger_outage_and_sends_each_message_once(drill_ledger, ledger_url, seed):
    url = drill_ledger
    engine = open_ledger(url)
    now = datetime.now(timezone.utc)
    keys = seed(engine, MESSAGES, now - timedelta(minutes=5))
    with Sandbox(SandboxConfig(latency_ms=20, validate_share=0.0)) as sandbox:
        outage = Outage(url, sandbox, after=MESSAGES // 4, admin=admin_url(ledger_url))
        outage.start()
        transport = SendGridTransport(sandbox.config.api_key, host=sandbox.url, pool_size=CONCURRENCY)
        started = time.monotonic()
        report = send_due(engine, transport, envelope_for, owner=Owner.current(), policy=POLICY, business_now=now)
        took = time.monotonic() - started
        outage.join()
        if outage.error is not None:
            raise outage.error
        # The next sweep: settles what a dead sender left (nothing), then sends what is due (nothing).
        recovered = recovery.recover_dead_claims(engine)
        sweep = send_due(engine, transport, envelope_for, owner=Owner.current(), policy=POLICY, business_now=now)
        transport.close()
        accepted = sandbox.message_keys()

    delivery = check_delivery(engine, accepted, keys)
    assert outage.started_at is not None and outage.started_at - started < took  # it struck mid-send
    assert (report.sent, report.unknown, report.failed, report.retry_wait) == (MESSAGES, 0, 0, 0)
    assert (recovered["sent"], recovered["unknown"], sweep.requests) == (0, 0, 0)
    assert delivery.sent == delivery.accepted == MESSAGES
    what = f"shut out ({outage.terminated} sessions ended)" if backend(engine) == "postgresql" else "locked"
    print(f"\ndrill ledger-outage [{backend(engine)}]: ledger {what} for {OUTAGE_S:.0f}s after "
          f"{MESSAGES // 4} accepted; the run took {took:.1f}s, {report.requests} requests, sent {report.sent}; "
          f"the sweep after it: {sweep.requests} requests; {delivery.line()}")


# SQLite waits out a lock for its busy timeout (30 s) before it answers at all: cutting the
# connection, what this drill is about, happens on PostgreSQL.
@pytest.mark.parametrize("ledger_url", ["postgresql"], indirect=True)
def test_an_outage_longer_than_the_run_waits_stops_it_and_the_next_sweep_finishes(drill_ledger, ledger_url, seed):
    """Past policy.ledger_outage_s the run gives up with the database's error; what it could not
    record stays claimed by it. Once its process is gone (an owner that no longer lives stands in
    for it here), the next sweep settles those claims as `unknown`, never resent, and sends the rest."""
    url = drill_ledger
    engine = open_ledger(url)
    now = datetime.now(timezone.utc)
    keys = seed(engine, MESSAGES, now - timedelta(minutes=5))
    gone = Owner(socket.gethostname(), 2**22 + 1, 0.0)  # a pid above Linux's limit: never a live process
    impatient = dataclasses.replace(POLICY, ledger_outage_s=0.5)
    with Sandbox(SandboxConfig(latency_ms=20, validate_share=0.0)) as sandbox:
        outage = Outage(url, sandbox, after=MESSAGES // 4, admin=admin_url(ledger_url))
        outage.start()
        transport = SendGridTransport(sandbox.config.api_key, host=sandbox.url, pool_size=CONCURRENCY)
        with pytest.raises(sa.exc.DBAPIError):
            send_due(engine, transport, envelope_for, owner=gone, policy=impatient, business_now=now)
        outage.join()
        if outage.error is not None:
            raise outage.error
        stranded = Counter(statuses(engine).values())["sending"]
        recovered = recovery.recover_dead_claims(engine)
        sweep = send_due(engine, transport, envelope_for, owner=Owner.current(), policy=POLICY, business_now=now)
        transport.close()
        accepted = sandbox.message_keys()

    delivery = check_delivery(engine, accepted, keys)
    assert 0 < stranded <= CONCURRENCY  # no more rows were ever claimed than requests in flight
    assert recovered["unknown"] == stranded and delivery.unknown == stranded
    assert delivery.sent == MESSAGES - stranded and sweep.sent > 0
    print(f"\ndrill ledger-outage-stop [{backend(engine)}]: the run gave up after 0.5s of outage with {stranded} "
          f"claims it could not record; the next sweep settled them unknown and sent {sweep.sent}; {delivery.line()}")
