"""Bulk writes that skip per-row ORM work: one executemany per chunk, values formatted vectorised."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

# SQLAlchemy's SQLite DateTime keeps naive text in this shape; the ledger stores UTC everywhere.
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _placeholders(conn: sa.Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def _column_values(conn: sa.Connection, series: pd.Series) -> np.ndarray:
    """One column as DB-API values: None for missing, datetimes as text the dialect reads back."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        utc = series.dt.tz_convert("UTC") if series.dt.tz is not None else series
        fmt = _SQLITE_DATETIME if conn.dialect.name == "sqlite" else _SQLITE_DATETIME + "+00:00"
        text = utc.dt.strftime(fmt)
        return text.astype(object).where(series.notna(), None).to_numpy(dtype=object)
    if pd.api.types.is_float_dtype(series):
        return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
    if pd.api.types.is_integer_dtype(series):
        return np.array(series.tolist(), dtype=object)
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def rows(conn: sa.Connection, frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple]:
    values = [_column_values(conn, frame[c]) for c in columns]
    return zip(*values)


def insert_frame(
    conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, columns: Sequence[str], chunk_rows: int = 50_000
) -> int:
    """INSERT every row of `frame` (only `columns`), chunked; returns the row count."""
    if frame.empty:
        return 0
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({_placeholders(conn, len(columns))})"
    for start in range(0, len(frame), chunk_rows):
        conn.exec_driver_sql(sql, list(rows(conn, frame.iloc[start : start + chunk_rows], columns)))
    return len(frame)


def update_frame(
    conn: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    key: Sequence[str],
    chunk_rows: int = 50_000,
) -> int:
    """UPDATE `columns` of the rows matched by `key`, chunked executemany; returns the row count."""
    if frame.empty:
        return 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sets = ", ".join(f"{c} = {mark}" for c in columns)
    where = " AND ".join(f"{k} = {mark}" for k in key)
    sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    for start in range(0, len(frame), chunk_rows):
        conn.exec_driver_sql(sql, list(rows(conn, frame.iloc[start : start + chunk_rows], [*columns, *key])))
    return len(frame)
