"""RawBatch, and what every reader shares on the way to it: cleaned cells and the final assembly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .columns import _CANONICAL, _EMAIL_COLUMNS, _Columns
from .refusal import ImportRefused


@dataclass
class RawBatch:
    """One file's records, unvalidated.

    frame: RangeIndex; every canonical column (all missing when the file has none), then the extra
    columns under their header text. Each cell is a str or NaN, stripped as str.strip() strips, with
    the domain of email addresses lower-cased. line_numbers[i] is where frame row i starts in the file
    (CSV: physical line, 1-based; XLSX: sheet row). malformed lists records that do not fit the header:
    line, reason, raw (the record's cells joined with the delimiter).
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


def _clean(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip what str.strip() strips; an empty cell becomes null (the parsers already made empty cells null)."""
    cleaned = []
    for chunk in _chunks(column):
        if _needs_strip(chunk):
            chunk = pc.utf8_trim(chunk, _WHITESPACE)
            emptied = pc.equal(chunk, "")
            if pc.any(emptied).as_py():
                chunk = pc.if_else(emptied, pa.scalar(None, pa.large_string()), chunk)
        cleaned.append(chunk)
    return pa.chunked_array(cleaned, pa.large_string())


def _lower_domain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Lower-case what follows the last "@" as str.lower() does; the local part may be case-sensitive."""
    # A slice at a time keeps the intermediate arrays small.
    step = 1 << 16
    return pa.chunked_array(
        [_lower_domain_slice(column.slice(start, step).combine_chunks()) for start in range(0, len(column), step)],
        pa.large_string(),
    )


def _lower_domain_slice(column: pa.Array) -> pa.Array:
    # Cheap filter first (Arrow's lower-casing changes at least what Python's does): most cells need nothing.
    changes = pc.fill_null(pc.and_(pc.not_equal(pc.utf8_lower(column), column), pc.match_substring(column, "@")), False)
    if not pc.any(changes).as_py():
        return column
    parts = pc.split_pattern(pc.filter(column, changes), "@", max_splits=1, reverse=True)
    domains = pc.list_element(parts, 1)
    if pc.all(pc.string_is_ascii(domains)).as_py():
        lowered = pc.ascii_lower(domains)
    else:  # Unicode case rules differ between Arrow and Python releases; Python's are the reference here
        lowered = pa.array([domain.lower() for domain in domains.to_pylist()], pa.large_string())
    fixed = pc.binary_join_element_wise(pc.list_element(parts, 0), lowered, pa.scalar("@", pa.large_string()))
    return pc.replace_with_mask(column, changes, fixed)


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
        raise ImportRefused("empty", f"{name} has a header row but no candidate rows.")
    keep[bad] = False
    count = int(keep.sum())
    kept = None if count == records else pa.array(keep)

    def take(position: int) -> pa.ChunkedArray:
        column, parsed.columns[position] = parsed.columns[position], None  # drop each original once copied
        return column if kept is None else column.filter(kept)  # chunk by chunk, never the whole column at once

    data: dict[str, pd.api.extensions.ExtensionArray] = {}
    source_headers: dict[str, str] = {}
    extras: list[str] = []
    by_target = {target: position for position, target in enumerate(columns.targets) if target}
    absent = pa.nulls(count, pa.large_string())
    for column in _CANONICAL:
        if column in by_target:
            position = by_target[column]
            values = take(position)
            if column in _EMAIL_COLUMNS:
                values = _lower_domain(values)
            source_headers[column] = columns.headers[position]
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
        source_headers[unique] = header
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
        source_headers=source_headers,
        extra_columns=extras,
        malformed=malformed,
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
    )
