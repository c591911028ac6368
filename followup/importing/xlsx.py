"""Excel workbooks (.xlsx): the first sheet with content (visible sheets first), every cell as text.

A workbook is XML in a ZIP, and reading XML costs openpyxl far more than its packed size
suggests: even in read-only mode it keeps an element for every row tag it has passed (about
90 bytes for a 12-byte `<row r="1"/>`, and 10 s per 24 MB of them, measured). So what a
workbook unzips to is checked against the size limit, from the ZIP's directory, before
openpyxl opens it; a part packed far tighter than any spreadsheet packs is a ZIP bomb; and
each sheet's stored dimension, read from the first bytes of its XML, must fit the column and
cell limits. While the rows stream, rows past Excel's last row or wider than the column limit
stop the read, since the stored dimension may be missing or wrong.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from .batch import RawBatch, _clean, _finish, _Parsed
from .columns import ColumnSet, _resolve_columns
from .limits import ReadLimits, megabytes, too_big, too_wide
from .refusal import _EXPORT_HINT, ImportRefused

# Apache POI refuses a part that unzips to more than 100 times its packed size (its 1% minimum
# inflate ratio). Spreadsheets pack about 10:1 (openpyxl's copy of our 20,000-row sample 8.8:1,
# a sheet of one filled column 14.5:1), a ZIP bomb 1,000:1. Small parts may pack tighter, harmlessly.
_MAX_PACKING = 100
_PACKING_GRACE = 1 << 20
_EXCEL_ROWS = 1_048_576  # the last row any spreadsheet program can write
# Each cell of the grid costs at least its 8-byte Arrow offset once read, so a grid of more
# cells than the size limit has bytes / 8 would take more memory than the largest file allowed.
_CELL_BYTES = 8
# The dimension comes before the sheet's data: within its first few hundred bytes in practice.
_SHEET_HEAD = 1 << 16
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\bref=\"([A-Za-z]*)(\d*)(?::([A-Za-z]+)(\d+))?\"")
# Where spreadsheet programs put sheets; one elsewhere still meets the checks while it streams.
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$")


def _require_xlsx(path: Path, limits: ReadLimits) -> None:
    """An Excel workbook whose ZIP directory and sheet ranges fit the limits, or the refusal that says
    what the file is instead."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if any(member.filename == "xl/workbook.xml" for member in members):
                _check_packing(path.name, members, limits)
                for member in members:
                    if _SHEET_PART.match(member.filename):
                        with archive.open(member) as source:
                            _check_dimension(path.name, member.filename, source.read(_SHEET_HEAD), limits)
                return
            names = {member.filename for member in members}
    # Reading a sheet's first bytes is the first decompression: it may meet an encrypted part
    # (RuntimeError) or a method zipfile lacks (NotImplementedError) as well as damage.
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, RuntimeError, NotImplementedError):
        raise ImportRefused("unreadable", f"{path.name} is a damaged ZIP or Excel file. {_EXPORT_HINT}") from None
    if "content.xml" in names:
        raise ImportRefused(
            "unsupported_format",
            f"{path.name} is an OpenDocument spreadsheet (.ods). Save it as an Excel workbook (.xlsx) or as CSV UTF-8, "
            f"then import that file.",
        )
    raise ImportRefused("unsupported_format", f"{path.name} is a ZIP archive, not an Excel workbook. {_EXPORT_HINT}")


def _cell_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Excel stores every number as a float: an id or phone typed as 12345 must not become "12345.0".
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _check_packing(name: str, members: list[zipfile.ZipInfo], limits: ReadLimits) -> None:
    """From the ZIP's directory alone. zipfile stops each part at the size the directory gives it
    (and fails its checksum), so a part cannot unzip to more than this says."""
    unzipped = sum(member.file_size for member in members)
    if unzipped > limits.max_file_bytes:
        raise too_big(f"{name} unzips to", unzipped, limits)
    for member in members:
        if member.file_size > _PACKING_GRACE and member.file_size > _MAX_PACKING * max(member.compress_size, 1):
            raise ImportRefused(
                "too_large",
                f"{name} is not a spreadsheet export: its part {member.filename} unzips to "
                f"{megabytes(member.file_size)} from {megabytes(member.compress_size)}, more than {_MAX_PACKING} times "
                f"its packed size where spreadsheets pack about 10 to 1: a ZIP bomb. {_EXPORT_HINT}",
            )


def _check_grid(where: str, rows: int, columns: int, limits: ReadLimits) -> None:
    if columns > limits.max_columns:
        raise too_wide(where, columns, limits)
    if rows * columns * _CELL_BYTES > limits.max_file_bytes:
        raise ImportRefused(
            "too_large",
            f"{where} spans {rows:,} rows by {columns:,} columns, more cells than a batch file within "
            f"{limits.max_file_mb:g} MB can hold. Delete the empty rows and columns around the candidates, "
            f"or raise the limit with FOLLOWUP_MAX_FILE_MB (in MB).",
        )


def _check_dimension(name: str, part: str, head: bytes, limits: ReadLimits) -> None:
    """The range the sheet says it spans (<dimension ref="A1:F250"/>), when its first bytes say."""
    from openpyxl.utils.cell import column_index_from_string

    found = _DIMENSION.search(head)
    if found is None:
        return
    first_column, first_row, last_column, last_row = (group.decode("ascii") if group else "" for group in found.groups())
    column, row = (last_column, last_row) if last_column else (first_column, first_row)
    try:
        columns = column_index_from_string(column.upper()) if column else 1
    except ValueError:
        return  # not a column openpyxl can name: it refuses the sheet itself, as damaged
    rows = int(row) if row else 1
    # A spreadsheet's stored range counts cells that hold only a format: say so, since deleting
    # the empty columns and rows around the candidates is then the fix.
    span = f"{first_column}{first_row}:{last_column}{last_row}" if last_column else f"{first_column}{first_row}"
    where = f"{name} ({part} says it spans {span}, counting cells that only hold a format)"
    if rows > _EXCEL_ROWS:
        raise _past_last_row(where)
    _check_grid(where, rows, columns, limits)


def _past_last_row(where: str) -> ImportRefused:
    return ImportRefused(
        "unreadable",
        f"{where} has rows past row {_EXCEL_ROWS:,}, the last a spreadsheet can have: it was not saved by a "
        f"spreadsheet program. {_EXPORT_HINT}",
    )


def _filled_rows(sheet, where: str, limits: ReadLimits):
    """(sheet row, cells) of each row with any text, cut after its last cell that holds a value.

    openpyxl pads a row with None up to its last cell, empty or not (a cell with only a format
    at XFD makes a row of 16,384): those are not columns. A gap in the row numbers is a row of
    its own, so a row numbered a billion is a billion rows: refused at Excel's last row."""
    width = kept = 0
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > _EXCEL_ROWS:
            raise _past_last_row(where)
        end = len(values)
        while end and values[end - 1] is None:
            end -= 1
        cells = [_cell_text(value) for value in values[:end]]
        if not any(cell and cell.strip() for cell in cells):
            continue
        kept, width = kept + 1, max(width, end)
        _check_grid(where, kept, width, limits)
        yield number, cells


def _read_xlsx(path: Path, mapping: dict[str, str], columns: ColumnSet, limits: ReadLimits) -> RawBatch:
    import openpyxl  # only workbooks pay for importing it

    name = path.name
    damaged = f"{name} could not be read as an Excel workbook ({{}}). {_EXPORT_HINT}"
    # A file object, because given a path openpyxl judges the file by its name.
    with path.open("rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises whatever the damaged XML or ZIP inside makes it raise
            raise ImportRefused("unreadable", damaged.format(exc)) from None
        try:
            for sheet in sorted(workbook.worksheets, key=lambda sheet: sheet.sheet_state != "visible"):
                sheet.reset_dimensions()  # the stored dimensions are often wrong and would cut rows short
                filled = _filled_rows(sheet, f'{name} (sheet "{sheet.title}")', limits)
                first = next(filled, None)
                if first is not None:
                    return _sheet_batch(first[1], list(filled), mapping, name, sheet.title, columns)
        except ImportRefused:
            raise
        except Exception as exc:  # as above: a damaged sheet fails in the middle of reading
            raise ImportRefused("unreadable", damaged.format(exc)) from None
        finally:
            workbook.close()
    raise ImportRefused("empty", f"{name} is empty: none of its sheets has a header row or {columns.rows}.")


def _sheet_batch(
    header: list[str | None],
    rows: list[tuple[int, list[str | None]]],
    mapping: dict[str, str],
    name: str,
    sheet: str,
    column_set: ColumnSet,
) -> RawBatch:
    width = max([len(header), *(len(cells) for _, cells in rows)])
    headers = [cell or "" for cell in header] + [""] * (width - len(header))
    columns = _resolve_columns(headers, mapping, name, column_set)
    if not rows:
        raise ImportRefused("empty", f'{name} (sheet "{sheet}") has a header row but no {column_set.rows}.')
    originals: list[list[tuple[np.ndarray, pa.Array]]] = [[] for _ in range(width)]
    cells = [
        _clean(pa.array([row[i] if i < len(row) else None for _, row in rows], pa.large_string()), 0, originals[i])
        for i in range(width)
    ]
    lines = np.array([number for number, _ in rows], dtype=np.int64)
    return _finish(_Parsed(cells, lines, {}, [], originals), columns, name, "xlsx", None, None, sheet)
