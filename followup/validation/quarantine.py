"""Failing records: one quarantine row each, with the columns, the reasons and the record's cells.

The cells are the file's own: under its headers, in its column order, with the text as the file
had it (the reader trims cells and lower-cases email domains; RawBatch.originals holds what those
steps changed, and is put back here), so the recruiter can find the row and fix it at the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from followup.csvfiles import write_csv
from followup.importing import RawBatch
from followup.validation.checks import Prepared
from followup.validation.derive import as_shown, take_rows
from followup.validation.rules import CANONICAL, LINES_NAMED, RULES, VALUE_REASONS

if TYPE_CHECKING:
    from followup.validation import Validated


def _in_file(raw: RawBatch, column: str, rows: np.ndarray) -> pd.Series:
    """The column's cells at `rows` as the file had them (before trimming and lower-casing)."""
    picked = take_rows(raw.frame[column], rows)
    if column not in raw.originals:
        return picked
    values = raw.as_in_file(column, rows, picked.to_numpy(dtype=object))
    return pd.Series(pd.array(values, dtype="str"), index=picked.index)


def _duplicates(raw: RawBatch, rows: np.ndarray, label: str) -> np.ndarray:
    """Each record with a duplicated id names the other lines that carry it (the first few)."""
    lines = raw.line_numbers
    picked = take_rows(raw.frame["candidate_id"], rows)
    groups = pd.DataFrame({"id": picked.to_numpy(), "line": lines[rows], "row": rows})
    text = {}
    for _, group in groups.groupby("id", sort=False):
        group_lines = np.sort(group["line"].to_numpy())
        for row, line in zip(group["row"], group["line"]):
            others = group_lines[group_lines != line]
            named = ", ".join(str(v) for v in others[:LINES_NAMED])
            more = f" and {len(others) - LINES_NAMED} more" if len(others) > LINES_NAMED else ""
            text[row] = f" appears more than once (also on line{'s' if len(others) > 1 else ''} {named}{more})"
    shown = f"{label} '" + as_shown(_in_file(raw, "candidate_id", rows)) + "'"
    return (shown + pd.Series([text[row] for row in rows], index=shown.index)).to_numpy(dtype=object)


def find_failures(raw: RawBatch, prepared: Prepared, failing: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per failing record: columns ';'-joined (each once), reasons '; '-joined."""
    label = {c: raw.source_headers.get(c, c) for c in CANONICAL}
    parts = []
    for rule in RULES:
        rows = np.sort(failing.get(rule.key, np.empty(0, np.int64)))
        if not len(rows):
            continue
        if rule.kind == "null":
            part = prepared.found[rule.key].loc[rows, ["columns", "reason"]]
        elif rule.kind == "not_null":
            reason = f"{label[rule.column]} is required but empty"
            part = pd.DataFrame({"columns": rule.column, "reason": reason}, index=rows)
        elif rule.kind == "unique":
            reason = _duplicates(raw, rows, label["candidate_id"])
            part = pd.DataFrame({"columns": "candidate_id", "reason": reason}, index=rows)
        else:
            value = as_shown(_in_file(raw, rule.column, rows))
            reason = f"{label[rule.column]} '" + value + "'" + VALUE_REASONS[rule.key]
            part = pd.DataFrame({"columns": rule.column, "reason": reason.to_numpy(dtype=object)}, index=rows)
        parts.append(part)
    return join_failures(parts)


def join_failures(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Failures found rule by rule (frame rows as index; columns, reason) as one row per record:
    columns ';'-joined (each once), reasons '; '-joined, in the order the rules found them."""
    if not parts:
        return pd.DataFrame({"columns": [], "reason": []}, index=np.empty(0, np.int64))
    failures = pd.concat(parts).sort_index(kind="stable")
    several = failures.index.duplicated(keep=False)
    if not several.any():
        return failures
    joined = failures[several].groupby(level=0).agg(
        columns=("columns", lambda v: ";".join(dict.fromkeys(";".join(v).split(";")))),
        reason=("reason", "; ".join),
    )
    return pd.concat([failures[~several], joined]).sort_index()


def quarantine_frame(raw: RawBatch, failures: pd.DataFrame, max_cell_chars: int) -> pd.DataFrame:
    """Bad and malformed records by line: what failed and why, then the cells under the file's headers,
    in the file's column order, as the file had them, but for a cell past `max_cell_chars`: its start."""
    rows = failures.index.to_numpy()
    lead = ("line", "candidate_id", "columns", "reason")
    data = {
        "line": raw.line_numbers[rows].astype(np.int64),
        "candidate_id": take_rows(raw.frame["candidate_id"], rows).to_numpy(),
        "columns": failures["columns"].to_numpy(dtype=object),
        "reason": failures["reason"].to_numpy(dtype=object),
    }
    for column, header in raw.source_headers.items():  # the file's column order
        cells = raw.as_in_file(column, rows, take_rows(raw.frame[column], rows).to_numpy())
        if column == "candidate_id" and header == "candidate_id":
            data["candidate_id"] = cells  # the second column is the file's own cell
            continue
        name = f"{header} (file)" if header in lead else header
        unique, suffix = name, 2
        while unique in data:  # a header the file repeats (two blank ones, say)
            unique, suffix = f"{name} ({suffix})", suffix + 1
        data[unique] = cells
    quarantine = pd.DataFrame({k: v if k == "line" else pd.array(v, dtype="str") for k, v in data.items()})
    if len(raw.malformed):
        malformed = raw.malformed
        quarantine = pd.concat(
            [
                quarantine,
                pd.DataFrame(
                    {
                        "line": malformed["line"].to_numpy(dtype=np.int64),
                        "columns": pd.array([""] * len(malformed), dtype="str"),
                        "reason": pd.array(malformed["reason"], dtype="str"),
                        "raw_record": pd.array(malformed["raw"], dtype="str"),
                    }
                ),
            ],
            ignore_index=True,
        )
    for name in quarantine.columns.drop("line"):
        if pd.api.types.is_string_dtype(quarantine[name]):
            quarantine[name] = _cut(quarantine[name], max_cell_chars)
    return quarantine.sort_values("line", kind="stable", ignore_index=True)


def _cut(cells: pd.Series, limit: int) -> pd.Series:
    """A cell longer than `limit` keeps its first `limit` characters and says that it was cut: the
    recruiter still finds the cell, and one pasted document does not make a quarantine file of its size."""
    lengths = cells.str.len()
    long = (lengths > limit).fillna(False).astype(bool)
    if not long.any():
        return cells
    note = [f" [cut here: the cell in your file has {int(n):,} characters]" for n in lengths[long]]
    return cells.mask(long, cells[long].str.slice(0, limit) + pd.Series(note, index=cells.index[long]))


def write_quarantine(validated: Validated, path: Path) -> Path | None:
    """The quarantine as CSV for the recruiter, or None (and no file) when every record passed."""
    if validated.quarantine.empty:
        return None
    return write_csv(validated.quarantine, path)
