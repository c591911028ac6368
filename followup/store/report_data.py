"""The response report's SQL: the sent messages, with what their events show, and the responses,
read with only the columns the report needs (followup.analytics decides what they mean).

Events are the big table (several per message, millions in a season): the report never reads
them. Each message keeps what its events show as they are stored (store.events: delivered_at,
last_open_at, last_click_at), so the funnel is three more columns of the messages read here.
Rows come through the driver's own cursor: SQLAlchemy's per-row processing would cost more than
the query on a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup.channels import CHANNELS
from followup.models import RESPONSES
from followup.store.dialect import DriverSql, raw_cursor

MESSAGE_COLUMNS = ("id", "candidate_id", "cadence", "kind", "step", "channel", "variant", "sent_at", "arm",
                   "call_time", "timezone", "country", "decided_at", "decision", "delivered_at", "last_open_at",
                   "last_click_at")  # fmt: skip
_TIMES = ("sent_at", "decided_at", "delivered_at", "last_open_at", "last_click_at")
_ON_SHEETS = sorted(name for name, channel in CHANNELS.items() if channel.delivery == "call_sheet")


@dataclass(frozen=True)
class ReportData:
    messages: pd.DataFrame  # MESSAGE_COLUMNS: every sent message; times as UTC
    responses: pd.DataFrame  # candidate_id, outcome, received_at (UTC)


def _quoted(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _frame(conn: sa.Connection, sql: str, params: tuple, columns) -> pd.DataFrame:
    with raw_cursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(columns))


def report_data(engine: Engine, until: datetime, campaign: str | None = None) -> ReportData:
    """What the report reads, as of `until` (the business clock): the messages sent by then (of
    `campaign`, or all) with their events' summary as stored, and the responses recorded by then."""
    with engine.connect() as conn:
        driver = DriverSql.of(conn.dialect)
        mark = driver.mark
        call_time = ("json_extract(m.call_sheet, '$.local_time_to_call')" if driver.sqlite
                     else "(m.call_sheet ->> 'local_time_to_call')")  # fmt: skip
        where, params = "m.sent_at IS NOT NULL AND m.sent_at <= " + mark, [driver.time(until)]
        if campaign is not None:
            where += f" AND m.campaign = {mark}"
            params.append(campaign)
        messages = _frame(conn, f"""
            SELECT m.id, m.candidate_id, m.cadence, m.kind, m.step, m.channel, m.variant, m.sent_at, m.experiment_arm,
                   CASE WHEN m.step = 0 AND m.channel IN ({_quoted(_ON_SHEETS)}) THEN {call_time} END,
                   c.timezone, c.country, d.decided_at, d.decision, m.delivered_at, m.last_open_at, m.last_click_at
            FROM messages m JOIN candidates c ON c.candidate_id = m.candidate_id
                 LEFT JOIN decisions d ON d.id = m.decision_id
            WHERE {where}""", tuple(params), MESSAGE_COLUMNS)  # fmt: skip
        answered = _quoted(sorted(outcome.value for outcome in RESPONSES))
        responses = _frame(conn, f"""
            SELECT candidate_id, outcome, received_at FROM responses
            WHERE received_at <= {mark} AND outcome IN ({answered})""",
            (driver.time(until),), ("candidate_id", "outcome", "received_at"))  # fmt: skip
    for column in _TIMES:
        messages[column] = pd.to_datetime(messages[column], utc=True, format="ISO8601")
    responses["received_at"] = pd.to_datetime(responses["received_at"], utc=True, format="ISO8601")
    return ReportData(messages, responses)
