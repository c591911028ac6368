"""Storing an imported batch: the batch record, the candidate upsert with its audit trail, refusals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from followup.models import Batch, BatchStatus, Candidate, CandidateChange, Decision, utcnow
from followup.store.bulk import insert_frame, update_frame
from followup.store.dialect import chunks

CANDIDATE_FIELDS = ("email", "first_name", "last_name", "phone", "timezone", "country", "channel", "locale")
DECISION_FIELDS = (
    "decision", "decided_at", "offer_deadline", "start_date", "salary_min", "salary_max", "currency",
    "location", "reasons", "interests", "recruiter_name", "recruiter_email", "recruiter_phone",
    "recruiter_timezone", "hiring_manager", "company", "meeting_at", "meeting_location", "notes",
)  # fmt: skip


@dataclass(frozen=True)
class BatchRecord:
    id: str
    source_name: str
    file_sha256: str
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    suite_version: str | None = None
    rows: int = 0
    valid: int = 0
    quarantined: int = 0
    quarantine_file: str | None = None
    data_docs: str | None = None


@dataclass(frozen=True)
class StoreStats:
    new_candidates: int
    updated_candidates: int
    new_decisions: int
    updated_decisions: int
    changes: int


def new_batch_id(file_sha256: str, now: datetime | None = None) -> str:
    """The time and the file's hash; a file that could not be read has no hash."""
    now = now or utcnow()
    return f"{now:%Y%m%dT%H%M%S%f}-{file_sha256[:8] or 'unread'}"


def find_imported(engine: Engine, file_sha256: str) -> Batch | None:
    """The batch already imported from a file with these bytes, if any."""
    with Session(engine, expire_on_commit=False) as session:
        return session.scalars(
            sa.select(Batch).where(Batch.file_sha256 == file_sha256, Batch.status == BatchStatus.IMPORTED)
        ).first()


def record_refusal(engine: Engine, record: BatchRecord, reason: str) -> None:
    """A refused batch leaves only this record behind."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Batch).values(**_batch_values(record), status=BatchStatus.REFUSED, reason=reason)
        )


def _batch_values(record: BatchRecord) -> dict:
    return {k: getattr(record, k) for k in BatchRecord.__dataclass_fields__}


def _as_text(series: pd.Series) -> pd.Series:
    """A comparable text form of a column, with NA kept as NA (old and new values share it)."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        out = series.dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    elif pd.api.types.is_float_dtype(series):
        out = series.map(lambda v: format(v, "g"), na_action="ignore")
    else:
        out = series
    return out.astype("string")


def _has_rows(conn: sa.Connection, table: sa.Table) -> bool:
    return conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None


def _existing(conn: sa.Connection, table: sa.Table, ids: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    parts = []
    for chunk in chunks(ids):
        result = conn.execute(sa.select(*(table.c[c] for c in columns)).where(table.c.candidate_id.in_(chunk)))
        parts.append(pd.DataFrame(result.fetchall(), columns=list(columns)))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))
    for name in columns:
        if isinstance(table.c[name].type, sa.DateTime):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        elif isinstance(table.c[name].type, sa.Float):
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
    return frame


def _compare(frame: pd.DataFrame, old: pd.DataFrame, key: Sequence[str], fields: Sequence[str], rows: np.ndarray):
    """Which rows of `frame` are absent from `old` and which differ from it (masks over `frame`),
    and the field-level changes. Only `rows` (positions) can be in `old`: the rest are new unread."""
    is_new = np.ones(len(frame), dtype=bool)
    changed = np.zeros(len(frame), dtype=bool)
    if old.empty:
        return is_new, changed, pd.DataFrame()
    merged = frame.iloc[rows][[*key, *fields]].merge(
        old, on=list(key), how="left", suffixes=("", "__old"), indicator=True
    )  # a left merge keeps the left order, and keys are unique in `old`: merged row i is rows[i]
    found = (merged["_merge"] == "both").to_numpy()
    is_new[rows[found]] = False
    known = merged[found]
    changes = []
    differs_any = np.zeros(len(known), dtype=bool)
    for field in fields:
        a, b = _as_text(known[field]), _as_text(known[f"{field}__old"])
        differs = (a.fillna("\0") != b.fillna("\0")).to_numpy(dtype=bool)
        if differs.any():
            differs_any |= differs
            changes.append(
                pd.DataFrame(
                    {
                        "candidate_id": known.loc[differs, "candidate_id"].to_numpy(),
                        "field": field,
                        "old_value": b[differs].astype(object).where(b[differs].notna(), None).to_numpy(),
                        "new_value": a[differs].astype(object).where(a[differs].notna(), None).to_numpy(),
                    }
                )
            )
    changed[rows[found][differs_any]] = True
    return is_new, changed, pd.concat(changes, ignore_index=True) if changes else pd.DataFrame()


@dataclass(frozen=True)
class _Upserted:
    inserted: int
    updated: int
    changes: pd.DataFrame
    known: np.ndarray  # rows whose key the table held before


def _upsert(
    conn: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    key: Sequence[str],
    fields: Sequence[str],
    maybe_known: np.ndarray,
    *,
    carried: Sequence[str] = (),
    on_insert: dict,
    on_update: dict,
) -> _Upserted:
    """Insert the rows of `frame` new to `table`; update the ones whose `fields` changed and list
    those changes. Only rows in `maybe_known` are read back: in a first import, none."""
    rows = np.flatnonzero(maybe_known)
    old = _existing(conn, table, frame["candidate_id"].iloc[rows].tolist(), [*key, *fields])
    is_new, changed, changes = _compare(frame, old, key, fields, rows)
    inserted = insert_frame(conn, table, frame, [*key, *fields, *carried], where=is_new, constants=on_insert)
    updated = update_frame(conn, table, frame, [*fields, *carried], key, where=changed, constants=on_update)
    return _Upserted(inserted, updated, changes, ~is_new)


def store_batch(engine: Engine, record: BatchRecord, valid: pd.DataFrame) -> StoreStats:
    """Record the batch and upsert its valid rows in one transaction: all of it lands or none."""
    cand_t, dec_t, change_t = Candidate.__table__, Decision.__table__, CandidateChange.__table__
    valid = valid.reset_index(drop=True)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(**_batch_values(record), status=BatchStatus.IMPORTED))
        people = _upsert(
            conn, cand_t, valid, ["candidate_id"], CANDIDATE_FIELDS,
            np.full(len(valid), _has_rows(conn, cand_t)),
            on_insert={"first_batch_id": record.id, "last_batch_id": record.id, "updated_at": now},
            on_update={"last_batch_id": record.id, "updated_at": now},
        )  # fmt: skip
        # A candidate new to the ledger has no decisions in it yet.
        decisions = _upsert(
            conn, dec_t, valid, ["candidate_id", "role"], DECISION_FIELDS, people.known,
            carried=["source_line"], on_insert={"batch_id": record.id}, on_update={"batch_id": record.id},
        )  # fmt: skip
        all_changes = pd.concat([people.changes, decisions.changes], ignore_index=True)
        insert_frame(
            conn, change_t, all_changes, ["candidate_id", "field", "old_value", "new_value"],
            constants={"batch_id": record.id},
        )  # fmt: skip
    return StoreStats(
        new_candidates=people.inserted,
        updated_candidates=people.updated,
        new_decisions=decisions.inserted,
        updated_decisions=decisions.updated,
        changes=len(all_changes),
    )
