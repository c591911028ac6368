"""RawBatch, and what every reader shares on the way to it: cleaned cells and the final assembly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columns import _Columns
from .refusal import ImportRefused


@dataclass
class RawBatch:
    """One file's records, unvalidated.

    frame: RangeIndex; every canonical column (all missing when the file has none), then the extra
    columns under their header text. Each cell is a str or NaN, stripped as str.strip() strips, with
    the domain of email addresses lower-cased. line_numbers[i] is where frame row i starts in the file
    (CSV: physical line, 1-based; XLSX: sheet row). source_headers: each frame column the file has ->
    its header text as written, in the file's column order. originals: for a frame column, the cells
    this cleaning changed, as the file had them: (frame rows, ascending; their original text, a
    Arrow array). Sparse, since most cells need no cleaning; see as_in_file(). malformed lists
    records that do not fit the header: line, reason, raw (the record's cells joined with the delimiter).
    """

    frame: pd.DataFrame
    line_numbers: np.ndarray
    source_headers: dict[str, str]
    extra_columns: list[str]
    malformed: pd.DataFrame
    format: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    originals: dict[str, tuple[np.ndarray, pa.Array]] = field(default_factory=dict)

    def as_in_file(self, column: str, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`values` (the column's cells at frame `rows`, as an object array) with the file's original text put
        back where cleaning changed it; a new array when anything changes."""
        if column not in self.originals or not len(rows):
            return values
        changed, text = self.originals[column]
        at = np.minimum(np.searchsorted(changed, rows), len(changed) - 1)
        hit = changed[at] == rows
        if not hit.any():
            return values
        values = values.astype(object, copy=True)
        values[hit] = text.take(pa.array(at[hit])).to_pylist()
        return values


# Exactly the characters str.isspace() accepts, so "stripped" means what Python's str.strip() means.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# pandas' "str" dtype: text held by Arrow (far smaller than Python objects), missing values are NaN.
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


@dataclass
class _Parsed:
    columns: list[pa.ChunkedArray]  # one per header position, cleaned (see _clean)
    lines: np.ndarray  # where each record starts
    malformed: dict[int, tuple[str, str]]  # record index -> (reason, raw)
    last_record: list[str]  # the final record's cells as parsed, to spot a quote that never closed
    # Per header position, the cells _clean changed: (record indices, original text) pieces, ascending.
    originals: list[list[tuple[np.ndarray, pa.Array]]] = field(default_factory=list)


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


# Bytes a cell may start or end with when it has whitespace to strip: ASCII whitespace (as str.isspace()
# sees it) and any non-ASCII byte, since the rest of _WHITESPACE is multi-byte in UTF-8.
_EDGE_BYTES = np.zeros(256, dtype=bool)
_EDGE_BYTES[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_EDGE_BYTES[128:] = True


def _needs_strip(chunk: pa.Array) -> bool:
    """Whether any cell starts or ends with a byte that may be whitespace, from the raw buffers alone."""
    _, offsets, data = chunk.buffers()
    if data is None:
        return False
    ends = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
    text = np.frombuffer(data, dtype=np.uint8)
    filled = ends[1:] > ends[:-1]
    return bool(_EDGE_BYTES[text[ends[:-1][filled]]].any() or _EDGE_BYTES[text[ends[1:][filled] - 1]].any())


def _clean(
    column: pa.Array | pa.ChunkedArray, first: int = 0, originals: list[tuple[np.ndarray, pa.Array]] | None = None
) -> pa.ChunkedArray:
    """Strip what str.strip() strips; an empty cell becomes null (the parsers already made empty cells null).

    With `originals`, each changed cell's original text is appended there as (index, text) pieces,
    the index counted from `first` for the column's first cell.
    """
    cleaned = []
    for chunk in _chunks(column):
        if _needs_strip(chunk):
            trimmed = pc.utf8_trim(chunk, _WHITESPACE)
            if originals is not None:
                # Trimming only removes, so a cell changed exactly when it got shorter (offsets alone).
                shorter = pc.fill_null(pc.less(pc.binary_length(trimmed), pc.binary_length(chunk)), False)
                if pc.any(shorter).as_py():
                    originals.append((first + np.flatnonzero(shorter.to_numpy(zero_copy_only=False)),
                                      pc.filter(chunk, shorter).cast(pa.large_string())))  # fmt: skip
            chunk = trimmed
            emptied = pc.equal(chunk, "")
            if pc.any(emptied).as_py():
                chunk = pc.if_else(emptied, pa.scalar(None, pa.large_string()), chunk)
        cleaned.append(chunk)
        first += len(chunk)
    return pa.chunked_array(cleaned, pa.large_string())


def _lower_domain(
    column: pa.ChunkedArray, originals: list[tuple[np.ndarray, pa.Array]] | None = None
) -> pa.ChunkedArray:
    """Lower-case what follows the last "@" as str.lower() does; the local part may be case-sensitive.

    With `originals`, each changed cell's text before lower-casing goes there as (row, text) pieces.
    """
    # A slice at a time keeps the intermediate arrays small.
    step = 1 << 16
    return pa.chunked_array(
        [
            _lower_domain_slice(column.slice(start, step).combine_chunks(), start, originals)
            for start in range(0, len(column), step)
        ],
        pa.large_string(),
    )


def _lower_domain_slice(
    column: pa.Array, first: int = 0, originals: list[tuple[np.ndarray, pa.Array]] | None = None
) -> pa.Array:
    # Cheap filter first (Arrow's lower-casing changes at least what Python's does): most cells need nothing.
    changes = pc.fill_null(pc.and_(pc.not_equal(pc.utf8_lower(column), column), pc.match_substring(column, "@")), False)
    if not pc.any(changes).as_py():
        return column
    before = pc.filter(column, changes)
    parts = pc.split_pattern(before, "@", max_splits=1, reverse=True)
    domains = pc.list_element(parts, 1)
    if pc.all(pc.string_is_ascii(domains)).as_py():
        lowered = pc.ascii_lower(domains)
    else:  # Unicode case rules differ between Arrow and Python releases; Python's are the reference here
        lowered = pa.array([domain.lower() for domain in domains.to_pylist()], pa.large_string())
    fixed = pc.binary_join_element_wise(pc.list_element(parts, 0), lowered, pa.scalar("@", pa.large_string()))
    if originals is not None:
        differs = pc.not_equal(fixed, before)  # the filter also lets through upper case before the "@"
        if pc.any(differs).as_py():
            rows = np.flatnonzero(changes.to_numpy(zero_copy_only=False))
            originals.append((first + rows[differs.to_numpy(zero_copy_only=False)], pc.filter(before, differs)))
    return pc.replace_with_mask(column, changes, fixed)


def _pieces_joined(pieces: list[tuple[np.ndarray, pa.Array]]) -> tuple[np.ndarray, pa.Array]:
    if len(pieces) == 1:
        return pieces[0]
    return np.concatenate([rows for rows, _ in pieces]), pa.concat_arrays([text for _, text in pieces])


def _originals(
    pieces: list[tuple[np.ndarray, pa.Array]], frame_rows: np.ndarray | None, later: list[tuple[np.ndarray, pa.Array]]
) -> tuple[np.ndarray, pa.Array] | None:
    """One column's original cells by frame row: `pieces` (by record, from _clean), moved to frame rows
    (`frame_rows[record]`, -1 for a record not kept), and `later` (by frame row, from a later step) where
    _clean left the cell as the file had it."""
    rows, text = _pieces_joined(pieces) if pieces else (np.empty(0, np.int64), pa.array([], pa.large_string()))
    if frame_rows is not None and len(rows):
        rows = frame_rows[rows]
        kept = rows >= 0
        if not kept.all():
            rows, text = rows[kept], text.filter(pa.array(kept))
    if later:
        more, more_text = _pieces_joined(later)
        fresh = ~np.isin(more, rows)
        rows = np.concatenate([rows, more[fresh]])
        text = pa.concat_arrays([text, more_text.filter(pa.array(fresh))])
        order = np.argsort(rows, kind="stable")
        rows, text = rows[order], text.take(pa.array(order))
    return (rows, text) if len(rows) else None


def _finish(
    parsed: _Parsed,
    columns: _Columns,
    name: str,
    format: str,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
) -> RawBatch:
    records = len(parsed.lines)
    keep = np.zeros(records, dtype=bool)
    for column in parsed.columns:
        keep |= pc.is_valid(column).to_numpy(zero_copy_only=False)
    bad = np.fromiter(parsed.malformed, dtype=np.int64, count=len(parsed.malformed))
    if not keep.any() and not len(bad):
        raise ImportRefused("empty", f"{name} has a header row but no {columns.of.rows}.")
    keep[bad] = False
    count = int(keep.sum())
    kept = None if count == records else pa.array(keep)

    def take(position: int) -> pa.ChunkedArray:
        column, parsed.columns[position] = parsed.columns[position], None  # drop each original once copied
        return column if kept is None else column.filter(kept)  # chunk by chunk, never the whole column at once

    frame_rows = None
    if kept is not None:
        frame_rows = np.cumsum(keep) - 1
        frame_rows[~keep] = -1
    originals: dict[str, tuple[np.ndarray, pa.Array]] = {}

    def note_originals(column: str, position: int, later: list[tuple[np.ndarray, pa.Array]]) -> None:
        pieces = parsed.originals[position] if position < len(parsed.originals) else []
        if pieces or later:
            found = _originals(pieces, frame_rows, later)
            if found is not None:
                originals[column] = found

    data: dict[str, pd.api.extensions.ExtensionArray] = {}
    named: dict[int, tuple[str, str]] = {}  # header position -> (frame column, header as written)
    extras: list[str] = []
    by_target = {target: position for position, target in enumerate(columns.targets) if target}
    absent = pa.nulls(count, pa.large_string())
    for column in columns.of.canonical:
        if column in by_target:
            position = by_target[column]
            values = take(position)
            later: list[tuple[np.ndarray, pa.Array]] = []
            if column in columns.of.email_columns:
                values = _lower_domain(values, later)
            named[position] = (column, columns.headers[position])
            note_originals(column, position, later)
        else:
            values = absent
        data[column] = pd.array(values, dtype=_TEXT)
    for position, (header, target) in enumerate(zip(columns.headers, columns.targets)):
        if target:
            continue
        values = take(position)
        label = header.strip(_WHITESPACE)
        if not label:
            if values.null_count == count:
                continue
            label = f"column_{position + 1}"
        unique, suffix = label, 2
        while unique in data:
            unique, suffix = f"{label} ({suffix})", suffix + 1
        data[unique] = pd.array(values, dtype=_TEXT)
        named[position] = (unique, header)
        note_originals(unique, position, [])
        extras.append(unique)

    frame = pd.DataFrame(data, copy=False)
    order = sorted(parsed.malformed)
    malformed = pd.DataFrame(
        {
            "line": np.array([parsed.lines[i] for i in order], dtype=np.int64),
            "reason": pd.array([parsed.malformed[i][0] for i in order], dtype=_TEXT),
            "raw": pd.array([parsed.malformed[i][1] for i in order], dtype=_TEXT),
        }
    )
    return RawBatch(
        frame=frame,
        line_numbers=parsed.lines[keep].astype(np.int64),
        source_headers=dict(named[position] for position in sorted(named)),
        extra_columns=extras,
        malformed=malformed,
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        originals=originals,
    )
