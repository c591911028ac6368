"""Storing an imported batch: the batch record, the candidate upsert with its audit trail, refusals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from followup.models import Batch, BatchStatus, Candidate, CandidateChange, Decision, utcnow
from followup.store.bulk import insert_frame, update_frame

CANDIDATE_FIELDS = ("email", "first_name", "last_name", "phone", "timezone", "country", "channel", "locale")
DECISION_FIELDS = (
    "decision", "decided_at", "offer_deadline", "start_date", "salary_min", "salary_max", "currency",
    "location", "reasons", "interests", "recruiter_name", "recruiter_email", "recruiter_phone",
    "hiring_manager", "company", "meeting_at", "meeting_location", "notes",
)  # fmt: skip
# SQLite caps bound parameters per statement; PostgreSQL does not mind the same chunk.
_LOOKUP_CHUNK = 5_000


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
    now = now or utcnow()
    return f"{now:%Y%m%dT%H%M%S%f}-{file_sha256[:8]}"


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


def _existing(conn: sa.Connection, table: sa.Table, ids: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    parts = []
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        result = conn.execute(sa.select(*(table.c[c] for c in columns)).where(table.c.candidate_id.in_(chunk)))
        parts.append(pd.DataFrame(result.fetchall(), columns=list(columns)))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(columns))
    for name in columns:
        if isinstance(table.c[name].type, sa.DateTime):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        elif isinstance(table.c[name].type, sa.Float):
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
    return frame


def _diff(new: pd.DataFrame, old: pd.DataFrame, key: Sequence[str], fields: Sequence[str]):
    """Split `new` into rows absent from `old`, rows that changed, and the field-level changes."""
    merged = new.merge(old, on=list(key), how="left", suffixes=("", "__old"), indicator=True)
    is_new = (merged["_merge"] == "left_only").to_numpy()
    known = merged[~is_new]
    changes = []
    changed_any = pd.Series(False, index=known.index)
    for field in fields:
        a, b = _as_text(known[field]), _as_text(known[f"{field}__old"])
        differs = (a.fillna("\0") != b.fillna("\0")).to_numpy(dtype=bool)
        if differs.any():
            changed_any |= differs
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
    inserted = new[is_new]
    updated = new[~is_new][changed_any.to_numpy()]
    change_frame = pd.concat(changes, ignore_index=True) if changes else pd.DataFrame()
    return inserted, updated, change_frame


def store_batch(engine: Engine, record: BatchRecord, valid: pd.DataFrame) -> StoreStats:
    """Record the batch and upsert its valid rows in one transaction: all of it lands or none."""
    cand_t, dec_t, change_t = Candidate.__table__, Decision.__table__, CandidateChange.__table__
    valid = valid.reset_index(drop=True)
    now = pd.Timestamp(utcnow())
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(**_batch_values(record), status=BatchStatus.IMPORTED))
        ledger_empty = conn.execute(sa.select(sa.func.count()).select_from(cand_t)).scalar_one() == 0
        ids = valid["candidate_id"].tolist()

        people = valid[["candidate_id", *CANDIDATE_FIELDS]]
        old_people = (
            pd.DataFrame(columns=["candidate_id", *CANDIDATE_FIELDS])
            if ledger_empty
            else _existing(conn, cand_t, ids, ["candidate_id", *CANDIDATE_FIELDS])
        )
        new_people, changed_people, people_changes = _diff(people, old_people, ["candidate_id"], CANDIDATE_FIELDS)
        insert_frame(
            conn,
            cand_t,
            new_people.assign(first_batch_id=record.id, last_batch_id=record.id, updated_at=now),
            ["candidate_id", *CANDIDATE_FIELDS, "first_batch_id", "last_batch_id", "updated_at"],
        )
        update_frame(
            conn,
            cand_t,
            changed_people.assign(last_batch_id=record.id, updated_at=now),
            [*CANDIDATE_FIELDS, "last_batch_id", "updated_at"],
            ["candidate_id"],
        )

        decisions = valid[["candidate_id", "role", *DECISION_FIELDS, "source_line"]]
        old_decisions = (
            pd.DataFrame(columns=["candidate_id", "role", *DECISION_FIELDS])
            if ledger_empty
            else _existing(conn, dec_t, ids, ["candidate_id", "role", *DECISION_FIELDS])
        )
        new_dec, changed_dec, decision_changes = _diff(
            decisions, old_decisions, ["candidate_id", "role"], DECISION_FIELDS
        )
        columns = ["candidate_id", "role", *DECISION_FIELDS, "source_line", "batch_id"]
        insert_frame(conn, dec_t, new_dec.assign(batch_id=record.id), columns)
        update_frame(
            conn,
            dec_t,
            changed_dec.assign(batch_id=record.id),
            [*DECISION_FIELDS, "source_line", "batch_id"],
            ["candidate_id", "role"],
        )

        all_changes = pd.concat([people_changes, decision_changes], ignore_index=True)
        insert_frame(
            conn,
            change_t,
            all_changes.assign(batch_id=record.id),
            ["batch_id", "candidate_id", "field", "old_value", "new_value"],
        )
    return StoreStats(
        new_candidates=len(new_people),
        updated_candidates=len(changed_people),
        new_decisions=len(new_dec),
        updated_decisions=len(changed_dec),
        changes=len(all_changes),
    )
