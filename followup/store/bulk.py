"""Bulk writes that skip per-row ORM work: rows streamed chunk by chunk, values converted vectorised.

New rows go in with COPY on PostgreSQL and executemany elsewhere, on the DB-API cursor: SQLAlchemy
wants a list of parameter tuples, and a million tuples would cost more memory than the frame.
Only one chunk's DB-API values exist at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat

import numpy as np
import pandas as pd
import sqlalchemy as sa

from followup.store.dialect import DriverSql, raw_cursor

CHUNK_ROWS = 20_000


def _column_values(driver: DriverSql, series: pd.Series) -> np.ndarray:
    """One column as DB-API values: None for missing, datetimes as text the dialect reads back."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
        # Only the filled cells are formatted: most date columns of a batch are mostly empty.
        present = series.notna().to_numpy()
        out = np.full(len(series), None, dtype=object)
        if present.any():
            utc = series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz is not None else series
            out[present] = driver.times(utc.to_numpy()[present]).astype(object)
        return out
    return series.to_numpy(dtype=object, na_value=None)


def _constant(driver: DriverSql, value: object) -> object:
    """A value every row shares, converted as a column holding it would be."""
    return _column_values(driver, pd.Series([value]))[0]


def _literal(conn: sa.Connection, value: object) -> str:
    """A constant as SQL text, converted as a bound value would be and quoted by SQLAlchemy."""
    literal = sa.literal(_constant(DriverSql.of(conn.dialect), value))
    return str(literal.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))


def _rows(
    driver: DriverSql,
    frame: pd.DataFrame,
    where: np.ndarray | None,
    columns: Sequence[str],
    constants: Mapping[str, object],
    key: Sequence[str] = (),
) -> Iterator[tuple]:
    """DB-API rows of the rows of `frame` where `where` (all when None): values of `columns`, then
    `constants`, then `key`. Converted a chunk at a time and handed over one by one, so no list
    of tuples builds up (nor the garbage collector's passes over it)."""
    fixed = [repeat(_constant(driver, value)) for value in constants.values()]
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        if where is not None:
            part = part[where[start : start + CHUNK_ROWS]]
        values = [_column_values(driver, part[c]) for c in columns]
        keys = [_column_values(driver, part[c]) for c in key]
        yield from zip(*values, *fixed, *keys)


def _count(frame: pd.DataFrame, where: np.ndarray | None) -> int:
    return len(frame) if where is None else int(np.count_nonzero(where))


def insert_frame(
    conn: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    where: np.ndarray | None = None,
    constants: Mapping[str, object] | None = None,
) -> int:
    """INSERT the rows of `frame` where `where` (all when None): `columns`, plus `constants`
    for every row. Returns the row count."""
    constants = constants or {}
    count = _count(frame, where)
    if not count:
        return 0
    names = [*columns, *constants]
    driver = DriverSql.of(conn.dialect)
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
        with raw_cursor(conn, sql) as cursor, cursor.copy(sql) as copy:
            for row in _rows(driver, frame, where, columns, constants):
                copy.write_row(row)
    else:
        # Constants are written into the statement: a bound value costs as much as a column's.
        values = [*[driver.mark] * len(columns), *(_literal(conn, v) for v in constants.values())]
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(values)})"
        with raw_cursor(conn, sql) as cursor:
            cursor.executemany(sql, _rows(driver, frame, where, columns, {}))
    return count


def update_frame(
    conn: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    columns: Sequence[str],
    key: Sequence[str],
    *,
    where: np.ndarray | None = None,
    constants: Mapping[str, object] | None = None,
) -> int:
    """UPDATE `columns` (and `constants`) of the rows matched by `key`, for the rows of `frame`
    where `where`; one executemany. Returns the row count."""
    constants = constants or {}
    count = _count(frame, where)
    if not count:
        return 0
    driver = DriverSql.of(conn.dialect)
    sets = ", ".join(f"{c} = {driver.mark}" for c in [*columns, *constants])
    match = " AND ".join(f"{k} = {driver.mark}" for k in key)
    sql = f"UPDATE {table.name} SET {sets} WHERE {match}"
    with raw_cursor(conn, sql) as cursor:
        cursor.executemany(sql, _rows(driver, frame, where, columns, constants, key))
    return count
