"""How the ledger's SQL meets its two databases: the driver's placeholder, datetimes as each
stores them, and SQLite's cap on bound parameters.

The hot paths (claiming, settling, rendering, planning, bulk import) bypass SQLAlchemy's per-row
bind and result processing and hand values to the driver themselves, so they do by hand what
SQLAlchemy's DateTime type would do: UTC everywhere; on SQLite naive text in the layout that
type stores and compares as text ("2026-11-26 09:00:00.000000"), on PostgreSQL aware datetimes.
Queries through SQLAlchemy get SQLite's datetimes back naive, hence aware().
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    import numpy as np

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
# SQLite caps bound parameters per statement; PostgreSQL does not mind the same chunk.
ID_CHUNK = 5_000


def as_utc(moment: datetime) -> datetime:
    """The ledger keeps UTC; SQLite stores wall time without an offset, so convert first."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware datetimes. Callers always get aware ones."""
    return None if moment is None else as_utc(moment)


def read_time(value: datetime | str | None) -> datetime | None:
    """A datetime column as driver SQL returns it (SQLite: the stored text, naive UTC), aware.
    The offset goes onto the text rather than through replace(tzinfo=...): a sweep reads hundreds
    of thousands of these, and the keyword call costs four times the parse."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return aware(value)


def raw_time(column: sa.ColumnElement) -> sa.ColumnElement:
    """A datetime column selected as the driver gives it, for read_time: SQLite's stored text
    unprocessed by SQLAlchemy (whose naive result would still need its offset put on), and
    PostgreSQL's aware datetime as it was."""
    return sa.type_coerce(column, sa.String)


@contextmanager
def raw_cursor(conn: sa.Connection, sql: str) -> Iterator:
    """A DB-API cursor on the connection's own transaction, its errors raised as SQLAlchemy raises
    them for its own statements (IntegrityError and so on)."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
    except dbapi_error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi_error, dialect=conn.dialect) from exc


def chunks(items: Sequence, size: int = ID_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class DriverSql:
    """What writing SQL for the connection's driver takes: its placeholder, and its datetimes."""

    sqlite: bool
    mark: str  # sqlite3 takes ?, psycopg %s

    @classmethod
    def of(cls, dialect: sa.Dialect) -> DriverSql:
        return cls(dialect.name == "sqlite", "?" if dialect.paramstyle == "qmark" else "%s")

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def one_of(self, column: str, values: Sequence[str]) -> tuple[str, tuple]:
        """`column IN values` for a text column, as SQL and its parameters. PostgreSQL gets the
        values as one text array, unnested so that the planner can hash them (`= ANY(array)`
        compares each row with every element): psycopg scans a statement for its placeholders in
        Python, and thousands of them cost more than the query. SQLite has no arrays and takes a
        placeholder each (ID_CHUNK at most)."""
        if self.sqlite:
            return f"{column} IN ({self.marks(len(values))})", tuple(values)
        return f"{column} IN (SELECT unnest(CAST({self.mark} AS text[])))", (list(values),)

    def time(self, moment: datetime) -> datetime | str:
        return as_utc(moment).strftime(SQLITE_DATETIME) if self.sqlite else as_utc(moment)

    def times(self, values: np.ndarray) -> np.ndarray:
        """Naive UTC datetime64 values as text, formatted in numpy (strftime per value is far
        slower): SQLITE_DATETIME's layout, with an explicit +00:00 for PostgreSQL (COPY reads text)."""
        import numpy as np  # the bulk import's alone: the sender and the web app never load it

        text = np.datetime_as_string(values, unit="us")
        # "T" becomes " " in place: each character of a fixed-width numpy string is one uint32.
        text.view(np.uint32).reshape(len(text), -1)[:, 10] = ord(" ")
        return text if self.sqlite else np.char.add(text, "+00:00")
