"""Bulk writes that skip per-row ORM work: one executemany per chunk, values formatted vectorised."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

# Datetimes go in as "YYYY-MM-DD HH:MM:SS.ffffff": the naive text SQLAlchemy's SQLite DateTime
# reads back; PostgreSQL gets the same with an explicit +00:00. The ledger stores UTC everywhere.

def _placeholders(conn: sa.Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def _column_values(conn: sa.Connection, series: pd.Series) -> np.ndarray:
    """One column as DB-API values: None for missing, datetimes as text the dialect reads back."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        # Only the filled cells are formatted: most date columns of a batch are mostly empty.
        present = series.notna().to_numpy()
        out = np.full(len(series), None, dtype=object)
        if present.any():
            utc = series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series
            text = np.char.replace(np.datetime_as_string(utc.to_numpy()[present], unit="us"), "T", " ")
            if conn.dialect.name != "sqlite":
                text = np.char.add(text, "+00:00")
            out[present] = text.astype(object)
        return out
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
