"""Events' SQL: storing a webhook POST's (or an export's) events once, and what they settle.

One transaction per batch, so that what the receiver acknowledges is stored whole:
- each event once (sg_event_id is unique; INSERT ... ON CONFLICT DO NOTHING), joined to its
  message by custom_args.message_key, or by the X-Message-Id its sg_message_id begins with when
  the key is missing or names no message here; an event whose message is unknown is kept with
  `matched` false;
- a message of unknown fate (S1) that a processed, delivered, deferred or bounce event names is
  `sent` at once, with the time of its earliest such event;
- hard bounces, unsubscribes (group unsubscribes too) and spam reports suppress their address,
  so the next claim holds back what would go to it (F4's stop rules);
- each message's delivered_at, last_open_at and last_click_at take in the new events (the
  earliest delivery; the latest open not flagged as a machine's nor through an image proxy; the
  latest click), whatever order they come in, for the response report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.models import MessageStatus, utcnow
from followup.store.dialect import ID_CHUNK, DriverSql, raw_cursor
from followup.store.recovery import SETTLING_EVENTS
from followup.tracking.engagement import image_proxy
from followup.tracking.events import EventRow

_COLUMNS = ("sg_event_id", "message_key", "provider_message_id", "event", "occurred_at", "machine_open", "matched",
            "payload", "received_at")  # fmt: skip
_SETTLING = frozenset(SETTLING_EVENTS)


@dataclass(frozen=True)
class Stored:
    """What storing one batch did; the fields in the order --json prints them."""

    events: int  # in the batch
    stored: int  # new to the ledger
    duplicates: int  # stored before, or twice in the batch
    unmatched: int  # of the new ones: no message of this ledger
    settled: int  # unknown messages now sent
    suppressed: int  # addresses newly suppressed

    def __add__(self, other: Stored) -> Stored:
        return Stored(*(a + b for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self) -> tuple[int, ...]:
        return (self.events, self.stored, self.duplicates, self.unmatched, self.settled, self.suppressed)


NOTHING = Stored(0, 0, 0, 0, 0, 0)


def _known(conn: sa.Connection, driver: DriverSql, column: str, values: set[str]) -> dict[str, str]:
    """`column` value -> message_key, for the messages whose `column` is among `values`."""
    found: dict[str, str] = {}
    ordered = sorted(values)
    for start in range(0, len(ordered), ID_CHUNK):
        where, params = driver.one_of(column, ordered[start : start + ID_CHUNK])
        found.update(conn.exec_driver_sql(f"SELECT {column}, message_key FROM messages WHERE {where}", params).all())
    return found


def store_events(engine: Engine, rows: Sequence[EventRow], received_at: datetime | None = None) -> Stored:
    """Store one batch of events and apply what they settle, in one transaction."""
    received_at = received_at or utcnow()
    unique: dict[str, EventRow] = {}
    for row in rows:
        unique.setdefault(row.sg_event_id, row)
    with engine.begin() as conn:
        driver = DriverSql.of(conn.dialect)
        by_key = _known(conn, driver, "message_key", {r.message_key for r in unique.values() if r.message_key})
        lost = {r.x_message_id for r in unique.values() if r.message_key not in by_key and r.x_message_id}
        by_provider = _known(conn, driver, "provider_message_id", lost) if lost else {}
        # Each event's message, when this ledger has it: its own key first, its X-Message-Id next.
        message_of = {
            row.sg_event_id: row.message_key if row.message_key in by_key else by_provider.get(row.x_message_id or "")
            for row in unique.values()
        }
        values = []
        when = driver.time(received_at)
        for row in unique.values():
            key = message_of[row.sg_event_id]
            values.append((
                row.sg_event_id, key or row.message_key, row.provider_message_id, row.event,
                driver.time(row.occurred_at), row.machine_open, key is not None,
                json.dumps(row.payload, ensure_ascii=False, separators=(",", ":")), when,
            ))  # fmt: skip
        # In sg_event_id order: two POSTs carrying the same events (SendGrid sends each about three
        # times) then wait for each other's rows on PostgreSQL instead of deadlocking.
        values.sort(key=lambda value: value[0])
        stored = _insert_new(conn, driver, values)
        settled = _settle_unknown(conn, driver, unique.values(), message_of)
        _summarise(conn, driver, [unique[event_id] for event_id in stored], message_of)
        suppressed = _suppress(conn, driver, unique.values(), when)
    unmatched = sum(1 for event_id in stored if message_of[event_id] is None)
    return Stored(len(rows), len(stored), len(rows) - len(stored), unmatched, settled, suppressed)


def _insert_new(conn: sa.Connection, driver: DriverSql, values: list[tuple]) -> list[str]:
    """Insert the rows whose sg_event_id is new; their ids (RETURNING says which were)."""
    if not values:
        return []
    sql = (
        f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({driver.marks(len(_COLUMNS))})"
        " ON CONFLICT (sg_event_id) DO NOTHING RETURNING sg_event_id"
    )
    with raw_cursor(conn, sql) as cursor:
        if driver.sqlite:
            # sqlite3's executemany refuses RETURNING; one statement per row is still one
            # transaction and no round trip, since SQLite runs in this process.
            new = []
            for row in values:
                new.extend(found for (found,) in cursor.execute(sql, row).fetchall())
            return new
        # psycopg pipelines the rows and keeps each one's RETURNING (returning=True).
        cursor.executemany(sql, values, returning=True)
        new = []
        while True:
            new.extend(found for (found,) in cursor.fetchall())
            if not cursor.nextset():
                return new


def _settle_unknown(conn, driver: DriverSql, rows, message_of: dict[str, str | None]) -> int:
    first: dict[str, EventRow] = {}
    for row in rows:
        key = message_of[row.sg_event_id]
        if key and row.event in _SETTLING and (key not in first or row.occurred_at < first[key].occurred_at):
            first[key] = row
    if not first:
        return 0
    sql = (
        f"UPDATE messages SET status = {driver.mark},"
        f" provider_message_id = COALESCE(provider_message_id, {driver.mark}),"
        f" sent_at = {driver.mark}, last_error = NULL, updated_at = {driver.mark}"
        f" WHERE message_key = {driver.mark} AND status = {driver.mark}"
    )
    now = driver.time(utcnow())
    sent, unknown = MessageStatus.SENT.value, MessageStatus.UNKNOWN.value
    params = [(sent, row.x_message_id, driver.time(row.occurred_at), now, key, unknown)
              for key, row in sorted(first.items())]  # key order: see _summarise
    return conn.exec_driver_sql(sql, params).rowcount


# (column, the event it takes, keep the earliest or the latest): a message's events summed up as they come.
_SUMMARY = (("delivered_at", "delivered", min), ("last_open_at", "open", max), ("last_click_at", "click", max))


def _summarise(conn, driver: DriverSql, rows, message_of: dict[str, str | None]) -> None:
    found: dict[str, list] = {}
    for row in rows:
        key = message_of[row.sg_event_id]
        if key is None or (row.event == "open" and (row.machine_open or image_proxy(row.payload.get("useragent")))):
            continue
        for n, (_, event, keep) in enumerate(_SUMMARY):
            if row.event == event:
                values = found.setdefault(key, [None, None, None])
                values[n] = row.occurred_at if values[n] is None else keep(values[n], row.occurred_at)
    if not found:
        return
    # One statement per message, all three columns, in key order: concurrent POSTs naming the same
    # messages take their row locks in the same order on PostgreSQL, so they wait, never deadlock.
    if driver.sqlite:  # min()/max() of a NULL is NULL there: the stored value or the new one stands
        sets = [f"{c} = coalesce({keep.__name__}({c}, ?), {c}, ?)" for c, _, keep in _SUMMARY]
    else:  # LEAST and GREATEST leave NULLs out
        sets = [f"{c} = {'LEAST' if keep is min else 'GREATEST'}({c}, CAST(%s AS timestamptz))"
                for c, _, keep in _SUMMARY]  # fmt: skip
    params = []
    for key in sorted(found):
        times = [None if at is None else driver.time(at) for at in found[key]]
        if driver.sqlite:  # each value twice: once in min()/max(), once for the NULL it replaces
            times = [at for pair in zip(times, times) for at in pair]
        params.append((*times, key))
    conn.exec_driver_sql(f"UPDATE messages SET {', '.join(sets)} WHERE message_key = {driver.mark}", params)


def _suppress(conn, driver: DriverSql, rows, when) -> int:
    values = {}
    for row in rows:
        reason = row.suppression
        if reason and row.email:
            # The address as SendGrid reports it (lower case); the send stage looks up both spellings.
            values.setdefault(row.email, (row.email, reason, f"event:{row.event}:{row.sg_event_id}"[:200], when))
    if not values:
        return 0
    sql = (
        f"INSERT INTO suppressions (email, reason, source, created_at) VALUES ({driver.marks(4)})"
        " ON CONFLICT (email) DO NOTHING"
    )
    return conn.exec_driver_sql(sql, [values[email] for email in sorted(values)]).rowcount  # key order: see above
