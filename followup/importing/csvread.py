"""CSV records into cleaned columns: the header, then pyarrow, pandas' C parser or the csv module.

The package's _read_csv picks the parser; each returns the same cells, line numbers and
malformed records for the same file.
"""

from __future__ import annotations

import csv
import itertools
import re
import warnings
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .batch import _WHITESPACE, _chunks, _clean, _Parsed
from .detect import _QUOTED
from .refusal import _EXPORT_HINT, ImportRefused

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# A header record longer than this is a quote that never closes, not a header.
_HEADER_LIMIT = 1 << 20


class _HeaderTooLong(Exception):
    pass


def _bounded_lines(handle, limit: int) -> Iterator[str]:
    used = 0
    while line := handle.readline(limit):
        used += len(line)
        if used > limit:
            raise _HeaderTooLong
        yield line


@dataclass
class _Header:
    cells: list[str]
    records_through: int  # records up to and including the header (what pandas skips)
    last_line: int  # the header's last physical line (what pyarrow skips)


def _read_header(path: Path, codec: str, delimiter: str, skip_sep_line: bool, name: str, rows: str) -> _Header:
    """The first record with any non-blank cell, read with the same rules as the body."""
    try:
        with path.open(encoding=codec, newline="") as handle:
            reader = csv.reader(_bounded_lines(handle, _HEADER_LIMIT), delimiter=delimiter)
            for count, record in enumerate(reader, start=1):
                if skip_sep_line and count == 1:
                    continue
                if any(cell.strip() for cell in record):
                    return _Header(record, count, reader.line_num)
    except (_HeaderTooLong, csv.Error):
        raise ImportRefused(
            "unreadable",
            f'The header row of {name} never ends: a quote (") in it is probably not closed. {_EXPORT_HINT}',
        ) from None
    raise ImportRefused("empty", f"{name} is empty: it has no header row and no {rows}.")


def _as_chunked(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])


def _holds_byte(column: pa.Array | pa.ChunkedArray, byte: int) -> bool:
    """Whether any cell may contain this ASCII byte, from the raw character buffers (fast, no per-cell work)."""
    for chunk in _chunks(column):
        data = chunk.buffers()[2]
        if data is not None and np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == byte):
            return True
    return False


def _record_spans(columns: list[pa.Array] | list[pa.ChunkedArray]) -> np.ndarray:
    """Physical lines each record spans: one, plus the line breaks (\n, \r\n, lone \r) inside its cells."""
    spans = np.ones(len(columns[0]), dtype=np.int64)
    for column in columns:
        returns = _holds_byte(column, 13)
        if not returns and not _holds_byte(column, 10):
            continue
        count = pc.count_substring(column, "\n")
        if returns:
            count = pc.subtract(pc.add(count, pc.count_substring(column, "\r")), pc.count_substring(column, "\r\n"))
        spans += pc.fill_null(count, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return spans


def _starts(header: _Header, spans: np.ndarray) -> np.ndarray:
    return header.last_line + 1 + np.cumsum(spans) - spans


class _Collector:
    """Takes parsed chunks of raw columns and cleans each at once, so the raw text of a whole file is never held."""

    def __init__(self, width: int, delimiter: str) -> None:
        self.width = width
        self.delimiter = delimiter
        self.parts: list[list[pa.Array]] = [[] for _ in range(width)]
        self.originals: list[list[tuple[np.ndarray, pa.Array]]] = [[] for _ in range(width)]
        self.spans = [np.zeros(0, dtype=np.int64)]
        self.malformed: dict[int, tuple[str, str]] = {}
        self.last_record: list[str] = []
        self.records = 0

    def add(self, raw: list[pa.Array] | list[pa.ChunkedArray]) -> None:
        """Raw columns of consecutive records: the header's columns, then any cells beyond them."""
        count = len(raw[0])
        if not count:
            return
        for row, found in _overflowing(raw, self.width, self.delimiter).items():
            self.malformed[self.records + row] = found
        self.spans.append(_record_spans(raw))
        self.last_record = [column[count - 1].as_py() or "" for column in raw[: self.width]]
        for part, originals, column in zip(self.parts, self.originals, raw):
            part.extend(_clean(column, self.records, originals).chunks)
        self.records += count

    def parsed(self, header: _Header) -> _Parsed:
        columns = [pa.chunked_array(part, pa.large_string()) for part in self.parts]
        return _Parsed(
            columns, _starts(header, np.concatenate(self.spans)), self.malformed, self.last_record, self.originals
        )


def _parse_with_arrow(path: Path, encoding: str, delimiter: str, header: _Header) -> _Parsed:
    """The fast path: raises pa.ArrowInvalid as soon as a record does not fit the header."""
    width = len(header.cells)
    names = [f"c{i}" for i in range(width)]
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=names,
            skip_rows=header.last_line,
            block_size=1 << 22,  # measured: fewer, larger batches cost less per row; memory barely moves
            # pyarrow skips a UTF-8 byte order mark itself and transcodes any other encoding.
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.large_string() for name in names},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    collector = _Collector(width, delimiter)
    with reader:
        for batch in reader:
            collector.add(batch.columns)
    return collector.parsed(header)


_TOO_MANY_FIELDS = re.compile(r"Expected \d+ fields in line \d+, saw (\d+)")


def _parse_with_pandas(path: Path, encoding: str, delimiter: str, header: _Header) -> _Parsed | None:
    """Pads short records and is widened until the longest fits. None when it cannot parse the file."""
    width = len(header.cells)
    widest = 2 * width + 16
    read = width
    for _ in range(4):
        try:
            return _pandas_pass(path, encoding, delimiter, header, read)
        except (ValueError, OverflowError, pd.errors.ParserWarning) as exc:
            too_many = _TOO_MANY_FIELDS.search(str(exc))
            if too_many is None or int(too_many.group(1)) > widest:
                return None
            read = max(int(too_many.group(1)), min(widest, read + width))
    return None


def _pandas_pass(path: Path, encoding: str, delimiter: str, header: _Header, read: int) -> _Parsed:
    collector = _Collector(len(header.cells), delimiter)
    with warnings.catch_warnings():
        # pandas silently drops the extra cells when the FIRST record it reads is too long; reading the
        # header again as that first record (it always fits) makes every long record an error instead.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        with pd.read_csv(
            path,
            sep=delimiter,
            header=None,
            names=range(read),
            skiprows=header.records_through - 1,
            dtype="str",
            index_col=False,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
            chunksize=1 << 18,
        ) as reader:
            for number, frame in enumerate(reader):
                # pandas hands over its Arrow buffers as they are.
                raw = [_as_chunked(pa.array(frame[i].array)) for i in range(read)]
                del frame
                collector.add([column[1:] for column in raw] if number == 0 else raw)
    return collector.parsed(header)


def _overflowing(raw: list[pa.Array] | list[pa.ChunkedArray], width: int, delimiter: str) -> dict[int, tuple[str, str]]:
    """Records with text beyond the header's last column (empty trailing cells are harmless)."""
    if len(raw) == width:
        return {}
    beyond = np.zeros(len(raw[0]), dtype=bool)
    for column in raw[width:]:
        filled = pc.fill_null(pc.not_equal(pc.utf8_trim(column, _WHITESPACE), ""), False)
        beyond |= filled.to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(beyond)
    if not len(rows):
        return {}
    picked = [column.take(pa.array(rows)).to_pylist() for column in raw]
    return {
        int(row): _too_many(["" if cell is None else cell for cell in record], width, delimiter)
        for row, record in zip(rows, zip(*picked))
    }


def _trimmed(record: list[str]) -> list[str]:
    """A record without its empty trailing cells, as a recruiter would count its values."""
    cells = list(record)
    while cells and not cells[-1].strip():
        cells.pop()
    return cells


def _too_many(record: list[str], width: int, delimiter: str) -> tuple[str, str]:
    cells = _trimmed(record)
    reason = (
        f"this row has {len(cells)} values but the header has {width} columns; "
        f"a value that contains a {_DELIMITER_NAMES.get(delimiter, repr(delimiter))} must be in quotes"
    )
    return reason, delimiter.join(cells)


def _parse_with_csv_module(path: Path, encoding: str, delimiter: str, header: _Header) -> _Parsed:
    """Slow and sure: one Python step per record."""
    # One cell may legitimately be longer than the csv module's 128 KiB default.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    width = len(header.cells)
    pending: list[list[str | None]] = [[] for _ in range(width)]
    parts: list[list[pa.Array]] = [[] for _ in range(width)]
    originals: list[list[tuple[np.ndarray, pa.Array]]] = [[] for _ in range(width)]
    starts = array("q")
    malformed: dict[int, tuple[str, str]] = {}
    record: list[str] = []

    def flush() -> None:
        first = len(starts) - len(pending[0])
        for values, part, changed in zip(pending, parts, originals):
            part.extend(_clean(pa.array(values, pa.large_string()), first, changed).chunks)
            values.clear()

    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for _ in itertools.islice(reader, header.records_through):
            pass
        previous = reader.line_num
        for index, record in enumerate(reader):
            starts.append(previous + 1)
            previous = reader.line_num
            if len(record) > width and any(cell.strip() for cell in record[width:]):
                malformed[index] = _too_many(list(record), width, delimiter)
            record = record[:width] + [""] * (width - len(record))
            for values, cell in zip(pending, record):
                values.append(cell or None)
            if len(pending[0]) >= 65536:
                flush()
    flush()
    columns = [pa.chunked_array(part, pa.large_string()) for part in parts]
    return _Parsed(columns, np.frombuffer(starts, dtype=np.int64).copy(), malformed, record, originals)


def _flag_unclosed_quote(path: Path, encoding: str, delimiter: str, parsed: _Parsed) -> None:
    """A quote that never closes swallows the rest of the file into the last record: report it, don't import it."""
    if not any("\n" in cell or "\r" in cell for cell in parsed.last_record):
        return
    start = int(parsed.lines[-1])
    with path.open(encoding=encoding, newline="") as handle:
        tail = "".join(itertools.islice(handle, start - 1, None))
    if _ends_inside_quotes(tail, delimiter):
        parsed.malformed[len(parsed.lines) - 1] = (
            f'a quote (") opened in this row is never closed, so everything from line {start} to the end of the '
            f"file was read as one row; close the quote and import the file again",
            delimiter.join(_trimmed(parsed.last_record)),
        )


def _ends_inside_quotes(text: str, delimiter: str) -> bool:
    """Walk the fields as the parsers do: a quote opens a quoted field only at the start of a field."""
    unquoted = re.compile(f"[^{re.escape(delimiter)}\r\n]*")
    position, end = 0, len(text)
    while position < end:
        if text[position] == '"':
            quoted = _QUOTED.match(text, position)
            if quoted is None:
                return True
            position = quoted.end()
        position = unquoted.match(text, position).end() + 1
    return False
