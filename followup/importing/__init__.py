"""Read a recruiter's candidate batch (CSV or XLSX) into canonical text columns; the same reader
takes the outcomes a recruiter logged (columns=OUTCOME_COLUMNS).

Nothing here judges the values: validation does that. This package only gets every record
of the file into the right column, as text, with the line it came from, or refuses the
whole file with a message a recruiter can act on.

CSV is parsed by pyarrow while every record fits the header (the common case, a few
seconds for a million rows). When some record does not fit, pandas' C parser takes over
(it pads short records and can be widened for long ones), and Python's csv module is the
last resort for what neither can parse (a quote that is never closed). All three produce
the same cells and line numbers.

Modules: columns (canonical columns, header aliases), mapping (--mapping files), detect
(encoding and delimiter of a CSV), csvread (the three CSV parsers), xlsx (workbooks),
batch (RawBatch and the cleaning every reader shares), refusal (ImportRefused), limits
(ReadLimits: how big a file, how many columns, how long a cell).
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from .batch import RawBatch, _finish
from .columns import (
    ALIASES, BATCH_COLUMNS, FREE_TEXT_COLUMNS, OPTIONAL_COLUMNS, OUTCOME_COLUMNS, REQUIRED_COLUMNS, ColumnSet,
    _resolve_columns, normalise_header,
)  # fmt: skip
from .csvread import _flag_unclosed_quote, _parse_with_arrow, _parse_with_csv_module, _parse_with_pandas, _read_header
from .detect import _CHUNK, _detect_encoding, _first_content_line, _sniff_delimiter
from .limits import ReadLimits, too_big, too_wide
from .mapping import _checked_mapping, load_mapping
from .refusal import _EXPORT_HINT, ImportRefused
from .xlsx import _read_xlsx, _require_xlsx

_HEAD = 1 << 16


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_batch(
    path: Path,
    mapping: Mapping[str, str] | None = None,
    limits: ReadLimits | None = None,
    *,
    columns: ColumnSet = BATCH_COLUMNS,
) -> RawBatch:
    """The file's records under the canonical names of `columns` (a candidate batch by default)."""
    path = Path(path)
    limits = limits or ReadLimits()
    user_mapping = _checked_mapping(mapping or {}, "passed to the import", columns.canonical)
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            head = handle.read(_HEAD)
    except OSError as exc:
        raise ImportRefused("unreadable", f"Cannot open {path}: {exc.strerror or exc}.") from None
    if size > limits.max_file_bytes:
        raise too_big(f"{path.name} is", size, limits)
    if not head.strip(b" \t\r\n"):
        raise ImportRefused("empty", f"{path.name} is empty: it has no header row and no {columns.rows}.")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ImportRefused(
            "unsupported_format",
            f"{path.name} is a legacy Excel workbook (.xls) or a password-protected file, which cannot be read. "
            f"Open it in Excel and save it as an Excel workbook (.xlsx) or as CSV UTF-8, then import that file.",
        )
    if head.startswith(b"%PDF"):
        raise ImportRefused(
            "unsupported_format", f"{path.name} is a PDF document, not a candidate list. {_EXPORT_HINT}"
        )
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _require_xlsx(path, limits)
        return _read_xlsx(path, user_mapping, columns, limits)
    return _read_csv(path, head, user_mapping, columns, limits)


def _read_csv(path: Path, head: bytes, mapping: dict[str, str], columns: ColumnSet, limits: ReadLimits) -> RawBatch:
    """Detect, read the header, then parse with the fastest tier that copes with the file.

    The tiers are called by their names in this package, so switching one off here (as the parity
    test does) switches it off for every import.
    """
    name = path.name
    encoding = _detect_encoding(path, head)
    sample = codecs.getincrementaldecoder(encoding)("replace").decode(head, final=False)
    if "\x00" in sample:
        raise ImportRefused(
            "unreadable", f"{name} does not look like a CSV file: it contains binary data. {_EXPORT_HINT}"
        )
    line, declared = _first_content_line(sample)
    delimiter = declared or _sniff_delimiter(line)
    header = _read_header(path, encoding, delimiter, declared is not None, name, columns.rows)
    if len(header.cells) > limits.max_columns:
        raise too_wide(name, len(header.cells), limits)
    resolved = _resolve_columns(header.cells, mapping, name, columns)
    try:
        parsed = _parse_with_arrow(path, encoding, delimiter, header)
    except pa.ArrowException:
        parsed = None  # outside this block the traceback, and all it parsed, is freed
    if parsed is None:
        # The abandoned fast attempt may have parsed most of a big file: give that memory back first.
        pa.default_memory_pool().release_unused()
        parsed = _parse_with_pandas(path, encoding, delimiter, header) or _parse_with_csv_module(
            path, encoding, delimiter, header
        )
    _flag_unclosed_quote(path, encoding, delimiter, parsed)
    return _finish(parsed, resolved, name, "csv", encoding, delimiter, None)


__all__ = [
    "ALIASES",
    "BATCH_COLUMNS",
    "FREE_TEXT_COLUMNS",
    "OUTCOME_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ColumnSet",
    "ImportRefused",
    "RawBatch",
    "ReadLimits",
    "file_sha256",
    "load_mapping",
    "normalise_header",
    "read_batch",
]
