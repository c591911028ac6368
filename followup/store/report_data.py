"""The response report's SQL: the sent messages, with what their events show, and the responses,
read with only the columns the report needs (followup.analytics decides what they mean).

Events are the big table (several per message, millions in a season): the report never reads
them. Each message keeps what its events show as they are stored (store.events: delivered_at,
last_open_at, last_click_at), so the funnel is three more columns of the messages read here.
Rows come through the driver's own cursor: SQLAlchemy's per-row processing would cost more than
the query on a million rows.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.channels import CHANNELS
from followup.models import RESPONSES
from followup.store.dialect import DriverSql, raw_cursor

INITIAL_COLUMNS = ("id", "candidate_id", "cadence", "kind", "step", "channel", "variant", "sent_at", "arm",
                   "call_time", "timezone", "country", "decided_at", "decision")  # fmt: skip
STEP_COLUMNS = ("candidate_id", "cadence", "step", "channel", "sent_at", "delivered_at", "last_open_at",
                "last_click_at")  # fmt: skip
_NEVER = -(2**62)  # a NULL time as the integer the driver hands back, before it becomes NaT
_ON_SHEETS = sorted(name for name, channel in CHANNELS.items() if channel.delivery == "call_sheet")
_CHANNELS = sorted(CHANNELS)
_SECOND_READER_FROM = 200_000  # messages


@dataclass(frozen=True)
class ReportData:
    """candidate_id and cadence are keys only: integers read from SQLite, text from PostgreSQL."""

    # INITIAL_COLUMNS and cadence_name ("offer:email"): every sent step 0, the facts of its
    # candidate and decision
    initial: pd.DataFrame
    messages: pd.DataFrame  # STEP_COLUMNS: every sent message, with what its events show
    responses: pd.DataFrame  # candidate_id, outcome, received_at (UTC)


def _quoted(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _rows(conn: sa.Connection, sql: str, params: tuple) -> list[tuple]:
    with raw_cursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _int_rows(path: str, sql: str, params: tuple) -> np.ndarray:
    """All-integer rows of a SQLite file, read on a connection of this process's own."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(sql, params).fetchall()
    return np.asarray(rows, dtype="int64").reshape(-1, len(STEP_COLUMNS))


def _later_reader(engine: Engine, conn: sa.Connection) -> ProcessPoolExecutor | None:
    # Reading a million rows is mostly the driver making Python objects, under the GIL: a second
    # process reads the later steps (integers only, cheap to hand back) on the second core while
    # this one reads the initial messages. Threads were slower. A file is needed to open it twice.
    # Spawned, not forked: the flow's process has Prefect's threads, whose locks a fork would copy
    # mid-use; the child's imports (~1 s) overlap the parent's own read.
    # A ledger of fewer messages reads in less time than the second process takes to start: the
    # largest rowid is what it holds, near enough, and costs nothing to read.
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    if (conn.exec_driver_sql("SELECT max(id) FROM messages").scalar() or 0) < _SECOND_READER_FROM:
        return None
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _times(values) -> pd.Series:
    # As float, a NULL is NaN and becomes NaT; microseconds since 1970 stay exact below 2**53.
    micros = np.asarray(values, dtype="int64")
    return pd.Series(pd.to_datetime(np.where(micros == _NEVER, np.nan, micros.astype("float64")), unit="us", utc=True))


def report_data(engine: Engine, until: datetime, campaign: str | None = None) -> ReportData:
    """What the report reads, as of `until` (the business clock): the messages sent by then (of
    `campaign`, or all) with their events' summary as stored, and the responses recorded by then.

    Every time comes back as integer microseconds and every key as a number where the database
    has one to give: turning a million rows of text into Python objects, and then into pandas',
    costs more than the whole report (SQLite's rowid is the candidate's key there; PostgreSQL's
    driver hands text over fast enough)."""
    with engine.connect() as conn:
        driver = DriverSql.of(conn.dialect)
        mark = driver.mark
        if driver.sqlite:
            # Exact: the stored text is "YYYY-MM-DD HH:MM:SS.ffffff" (dialect.SQLITE_DATETIME).
            micros = ("COALESCE(CAST(strftime('%s', {0}) AS INTEGER) * 1000000"
                      " + CAST(substr({0}, 21, 6) AS INTEGER), {1})")
            call_time = "json_extract(m.call_sheet, '$.local_time_to_call')"
            person, answered_by = "c.rowid", "(SELECT c.rowid FROM candidates c WHERE c.candidate_id = r.candidate_id)"
        else:
            micros = "COALESCE(CAST(EXTRACT(EPOCH FROM {0}) * 1000000 AS BIGINT), {1})"
            call_time = "(m.call_sheet ->> 'local_time_to_call')"
            person, answered_by = "m.candidate_id", "r.candidate_id"

        def us(column: str) -> str:
            return micros.format(column, _NEVER)

        cadences = [row[0] for row in _rows(conn, "SELECT DISTINCT cadence FROM messages WHERE cadence IS NOT NULL", ())]
        # A new ledger has no cadence yet, and CASE needs at least one WHEN.
        cadence = ("CASE m.cadence " + " ".join(f"WHEN {_quoted([c])} THEN {n}" for n, c in enumerate(cadences))
                   + " ELSE -1 END") if cadences else "-1"
        channel = "CASE m.channel " + " ".join(f"WHEN '{c}' THEN {n}" for n, c in enumerate(_CHANNELS)) + " END"
        where, params = f"m.sent_at IS NOT NULL AND m.sent_at <= {mark}", [driver.time(until)]
        if campaign is not None:
            where += f" AND m.campaign = {mark}"
            params.append(campaign)
        answered = _quoted(sorted(outcome.value for outcome in RESPONSES))
        summary = f'{us("m.delivered_at")}, {us("m.last_open_at")}, {us("m.last_click_at")}'
        # Step 0 once, with all it is cut by; the later steps with only what by_step and the funnel need.
        first_sql = (f"""
            SELECT m.id, {person}, {cadence}, m.kind, m.step, m.channel, m.variant, {us("m.sent_at")}, m.experiment_arm,
                   CASE WHEN m.channel IN ({_quoted(_ON_SHEETS)}) THEN {call_time} END,
                   c.timezone, c.country, {us("d.decided_at")}, d.decision, {channel}, {summary}
            FROM messages m JOIN candidates c ON c.candidate_id = m.candidate_id
                 LEFT JOIN decisions d ON d.id = m.decision_id
            WHERE {where} AND m.step = 0""", tuple(params))  # fmt: skip
        later_sql = (f"""
            SELECT {person}, {cadence}, m.step, {channel}, {us("m.sent_at")}, {summary}
            FROM messages m JOIN candidates c ON c.candidate_id = m.candidate_id
            WHERE {where} AND m.step > 0""", tuple(params))  # fmt: skip
        responses_sql = (f"""
            SELECT {answered_by}, r.outcome, {us("r.received_at")} FROM responses r
            WHERE r.received_at <= {mark} AND r.outcome IN ({answered})""", (driver.time(until),))  # fmt: skip
        reader = _later_reader(engine, conn)
        try:
            later = reader.submit(_int_rows, engine.url.database, *later_sql) if reader else None
            first, answers = (_rows(conn, *query) for query in (first_sql, responses_sql))
            if later is not None:
                later = later.result()
            else:
                later = np.asarray(_rows(conn, *later_sql), dtype=object).reshape(-1, len(STEP_COLUMNS))
        finally:
            if reader:
                reader.shutdown()
    responses = pd.DataFrame.from_records(answers, columns=["candidate_id", "outcome", "received_at"])
    extra = ["channel_code", *STEP_COLUMNS[5:]]
    read = pd.DataFrame.from_records(first, columns=[*INITIAL_COLUMNS, *extra], nrows=len(first))
    initial = read[list(INITIAL_COLUMNS)].copy()
    for column in ("sent_at", "decided_at"):
        initial[column] = _times(initial[column])
    responses["received_at"] = _times(responses["received_at"])
    key = "int64" if driver.sqlite else object

    def column(first_column: str, index: int, dtype) -> np.ndarray:
        return np.concatenate([read[first_column].to_numpy(dtype=dtype), later[:, index].astype(dtype)])

    messages = pd.DataFrame({
        "candidate_id": column("candidate_id", 0, key), "cadence": column("cadence", 1, "int64"),
        "step": column("step", 2, "int64"),
        "channel": pd.Categorical.from_codes(column("channel_code", 3, "int64"), categories=_CHANNELS),
        **{name: _times(column(name, 4 + n, "int64")) for n, name in enumerate(STEP_COLUMNS[4:])},
    })  # fmt: skip
    initial["cadence_name"] = initial["cadence"].map(dict(enumerate(cadences)))
    return ReportData(initial, messages, responses)
