"""The response report's SQL: the sent messages, what their events show, and the responses, read
with only the columns the report needs (followup.analytics decides what they mean).

Events are the big table (several per message, millions in a season), so they are reduced in the
database to three flags per message: delivered, opened by a person, clicked by a person, with
the same rules as warm detection (tracking.engagement): an open flagged sg_machine_open, one
within the machine threshold of delivery, and one through a known image proxy do not count; a
click that soon is a link scanner's. Rows come through the driver's own cursor: SQLAlchemy's
per-row processing would cost more than the query on a million rows.
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
from followup.tracking.engagement import IMAGE_PROXY_AGENTS

MESSAGE_COLUMNS = ("id", "candidate_id", "cadence", "kind", "step", "channel", "variant", "sent_at", "arm",
                   "call_time", "timezone", "country", "decided_at", "decision")  # fmt: skip
_ON_SHEETS = sorted(name for name, channel in CHANNELS.items() if channel.delivery == "call_sheet")


@dataclass(frozen=True)
class ReportData:
    messages: pd.DataFrame  # MESSAGE_COLUMNS: every sent message; times as UTC
    signals: pd.DataFrame  # id (the message's), delivered, opened, clicked: 0/1
    responses: pd.DataFrame  # candidate_id, outcome, received_at (UTC)


def _quoted(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _frame(conn: sa.Connection, sql: str, params: tuple, columns) -> pd.DataFrame:
    with raw_cursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        return pd.DataFrame.from_records(cursor.fetchall(), columns=list(columns))


def report_data(engine: Engine, until: datetime, campaign: str | None = None, machine_seconds: float = 10.0) -> ReportData:
    """What the report reads, as of `until` (the business clock): messages sent by then (of
    `campaign`, or all), their events' flags, and the responses recorded by then."""
    with engine.connect() as conn:
        driver = DriverSql.of(conn.dialect)
        mark = driver.mark
        if driver.sqlite:
            call_time = "json_extract(m.call_sheet, '$.local_time_to_call')"
            seconds = "(julianday(e.occurred_at) - julianday(d.at)) * 86400.0"
            agent = "lower(coalesce(json_extract(e.payload, '$.useragent'), ''))"
            machine = "e.machine_open = 1"
        else:
            call_time = "(m.call_sheet ->> 'local_time_to_call')"
            seconds = "EXTRACT(EPOCH FROM (e.occurred_at - d.at))"
            agent = "lower(coalesce(e.payload ->> 'useragent', ''))"
            machine = "e.machine_open"
        where, params = "m.sent_at IS NOT NULL AND m.sent_at <= " + mark, [driver.time(until)]
        if campaign is not None:
            where += f" AND m.campaign = {mark}"
            params.append(campaign)
        messages = _frame(conn, f"""
            SELECT m.id, m.candidate_id, m.cadence, m.kind, m.step, m.channel, m.variant, m.sent_at, m.experiment_arm,
                   CASE WHEN m.step = 0 AND m.channel IN ({_quoted(_ON_SHEETS)}) THEN {call_time} END,
                   c.timezone, c.country, d.decided_at, d.decision
            FROM messages m JOIN candidates c ON c.candidate_id = m.candidate_id
                 LEFT JOIN decisions d ON d.id = m.decision_id
            WHERE {where}""", tuple(params), MESSAGE_COLUMNS)  # fmt: skip
        # Bound, not written into the SQL: psycopg would read a literal's % as a placeholder.
        proxy = " OR ".join(f"{agent} LIKE {mark}" for _ in IMAGE_PROXY_AGENTS)
        patterns = tuple(f"%{name.lower()}%" for name in IMAGE_PROXY_AGENTS)
        human = f"COALESCE({seconds}, 1e9) >= {float(machine_seconds)!r}"
        signals = _frame(conn, f"""
            WITH d AS (SELECT message_key, MIN(occurred_at) AS at FROM events
                       WHERE event = 'delivered' AND matched AND occurred_at <= {mark} GROUP BY message_key)
            SELECT m.id, f.delivered, f.opened, f.clicked FROM (
                SELECT e.message_key,
                       MAX(CASE WHEN e.event = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                       MAX(CASE WHEN e.event = 'open' AND NOT ({machine}) AND {human} AND NOT ({proxy})
                           THEN 1 ELSE 0 END) AS opened,
                       MAX(CASE WHEN e.event = 'click' AND {human} THEN 1 ELSE 0 END) AS clicked
                FROM events e LEFT JOIN d ON d.message_key = e.message_key
                WHERE e.event IN ('delivered', 'open', 'click') AND e.matched AND e.occurred_at <= {mark}
                GROUP BY e.message_key) f
            JOIN messages m ON m.message_key = f.message_key""",
            (driver.time(until), *patterns, driver.time(until)), ("id", "delivered", "opened", "clicked"))  # fmt: skip
        answered = _quoted(sorted(outcome.value for outcome in RESPONSES))
        responses = _frame(conn, f"""
            SELECT candidate_id, outcome, received_at FROM responses
            WHERE received_at <= {mark} AND outcome IN ({answered})""",
            (driver.time(until),), ("candidate_id", "outcome", "received_at"))  # fmt: skip
    for frame, columns in ((messages, ("sent_at", "decided_at")), (responses, ("received_at",))):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return ReportData(messages, signals, responses)
