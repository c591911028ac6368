"""How much a batch file may hold before it is refused, and the refusals that name the setting.

The values come from the settings (FOLLOWUP_MAX_FILE_MB, FOLLOWUP_MAX_COLUMNS,
FOLLOWUP_MAX_CELL_CHARS) through the import stage's setup; a recruiter whose real export is
past one is told which setting raises it. The cell limit never refuses a file: validation
quarantines the row, and the quarantine file keeps the cell cut to the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from .refusal import ImportRefused

MB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """The defaults are the settings' defaults (tests/test_importing.py holds them equal)."""

    # 1,000,000 rows of a full export are 488 MB of CSV (BENCHMARKS.md), read in ~1.7 GB.
    # An XLSX counts as what it unzips to: that, not its packed size, is what reading it costs.
    max_file_mb: float = 512
    # A candidate export has tens of columns, a few hundred with every custom field; a sheet
    # padded out towards Excel's 16,384 is a padded sheet, not a wider export.
    max_columns: int = 1000
    # Excel's own limit for a cell: a longer cell did not come out of a spreadsheet.
    max_cell_chars: int = 32_767

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)


def megabytes(size: int) -> str:
    if size < MB:
        return f"{size / 1024:,.0f} KB"
    return f"{size / MB:,.{0 if size >= 10 * MB else 1}f} MB"


def too_big(what: str, size: int, limits: ReadLimits) -> ImportRefused:
    """`what` says what is measured: "is 600 MB", "unzips to 800 MB"."""
    return ImportRefused(
        "too_large",
        f"{what} {megabytes(size)}, more than the {limits.max_file_mb:g} MB a batch file may hold. "
        f"Split it into smaller files, or raise the limit with FOLLOWUP_MAX_FILE_MB (in MB).",
    )


def too_wide(where: str, columns: int, limits: ReadLimits) -> ImportRefused:
    return ImportRefused(
        "too_large",
        f"{where} has {columns:,} columns, more than the {limits.max_columns:,} a batch may have. "
        f"Delete the columns you do not need, or raise the limit with FOLLOWUP_MAX_COLUMNS.",
    )
