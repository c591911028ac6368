"""Excel workbooks (.xlsx): the first sheet with content (visible sheets first), every cell as text."""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa

from .batch import RawBatch, _clean, _finish, _Parsed
from .columns import ColumnSet, _resolve_columns
from .refusal import _EXPORT_HINT, ImportRefused


def _require_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportRefused("unreadable", f"{path.name} is a damaged ZIP or Excel file. {_EXPORT_HINT}") from None
    if "xl/workbook.xml" in names:
        return
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


def _read_xlsx(path: Path, mapping: dict[str, str], columns: ColumnSet) -> RawBatch:
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
                rows = (
                    (number, [_cell_text(value) for value in values])
                    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
                )
                filled = ((number, cells) for number, cells in rows if any(cell and cell.strip() for cell in cells))
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
