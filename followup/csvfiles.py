"""Every CSV the project writes: UTF-8, safe to open in a spreadsheet, never half-written.

Recruiters open these files (quarantine lists, call sheets, reports) in Excel, LibreOffice or
Google Sheets, and the cells hold text that came from outside: a candidate's name, an ATS
export. A cell that starts with = + - @ TAB or CR is read as a formula by those programs
(CSV injection), so such text gets a leading apostrophe, the OWASP rule: the spreadsheet then
shows the text instead of running it.

Only text is touched. A column of numbers (float, int) or timestamps is written as numbers:
-5 in a numeric column is a literal the spreadsheet parses as the number -5, it cannot carry
a formula, and an apostrophe would turn it into text that no longer sums or sorts. The same
characters in a text column ("-2", "+1 415 555 0100") are prefixed, because text is where a
payload such as "-2+3+cmd|' /C calc'!A0" would travel.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pandas as pd

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A str a spreadsheet would run as a formula gets a leading '; anything else is returned as is."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _neutralised(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(column.cat.categories.dtype)
    if not (isinstance(column.dtype, pd.StringDtype) or column.dtype == object):
        return column
    try:
        risky = column.str.startswith(_FORMULA_STARTS)
    except AttributeError:  # an object column without a single str: nothing to neutralise
        return column
    risky = risky.fillna(False).astype(bool)
    if not risky.any():
        return column
    return column.mask(risky, "'" + column[risky].astype("str"))


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` (without its index) as UTF-8 CSV at `path`, atomically; returns the path.

    The file is written beside the target and renamed over it, so a reader sees the old file
    or the new one, never a torn one, and a failure leaves the old file as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = pd.DataFrame(
        {position: _neutralised(frame.iloc[:, position]) for position in range(frame.shape[1])},
        index=frame.index,
    )
    safe.columns = [neutralise(str(name)) for name in frame.columns]
    return write_whole(path, lambda handle: safe.to_csv(handle, index=False, lineterminator="\n"))


def write_whole(path: Path, write: Callable[[TextIO], object]) -> Path:
    """`write(handle)` into a UTF-8 file beside `path`, then renamed over it: a reader sees the old
    file or the new one, never a torn one, and a failure leaves the old file as it was. The file
    is its owner's only (mkstemp's mode), like every output of the project."""
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
    )
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path
