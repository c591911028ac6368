"""A hostile or runaway file is refused, cheaply: before it is parsed, or as soon as reading it
shows what it is, with a message naming the limit and the setting that raises it."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.styles import Font

from followup import validation
from followup.config import Settings
from followup.importing import ImportRefused, ReadLimits, read_batch
from followup.stages.importing import ImportSetup, ImportSummary, open_batch, read, validate
from followup.store import open_ledger

HEADER = ["candidate_id", "email", "first_name", "last_name", "role", "decision"]
ANN = ["C1", "ann@example.com", "Ann", "Lee", "Backend Engineer", "offer"]
BO = ["C2", "bo@example.com", "Bo", "Li", "Data Analyst", "reject"]
MB = 1 << 20

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
    '+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>",
    "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{_MAIN}" xmlns:r="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships"><sheets><sheet name="Round" sheetId="1" r:id="rId1"/></sheets>'
    "</workbook>",
    "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="{_RELS}"><Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>',
}


def cells(row: int, values: list[str], first_column: str = "A") -> str:
    column = openpyxl.utils.column_index_from_string(first_column)
    return "".join(
        f'<c r="{openpyxl.utils.get_column_letter(column + i)}{row}" t="inlineStr"><is><t>{value}</t></is></c>'
        for i, value in enumerate(values)
    )


def workbook(path: Path, rows: list[str], dimension: str | None = None, filler: bytes = b"", repeat: int = 0) -> Path:
    """A workbook written part by part, as a hostile tool could: `rows` are <row> elements, then
    `filler` `repeat` times (streamed, so a big sheet never sits in memory here)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<?xml version="1.0"?><worksheet xmlns="{_MAIN}">'.encode())
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(("<sheetData>" + "".join(rows)).encode())
            block = filler * 10_000
            for _ in range(repeat // 10_000):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return path


def header_and_rows(*records: list[str]) -> list[str]:
    return [f'<row r="{n}">{cells(n, values)}</row>' for n, values in enumerate([HEADER, *records], start=1)]


def refused(path: Path, limits: ReadLimits | None = None) -> tuple[ImportRefused, int]:
    """The refusal, and the most memory Python held while reaching it."""
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused) as caught:
            read_batch(path, limits=limits)
        return caught.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def write_csv(path: Path, rows) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- sizes


def test_a_zip_bomb_is_refused_from_the_zip_directory_before_openpyxl_reads_a_row(tmp_path):
    # 40 MB of <row r="1"/> packed into about 40 KB: openpyxl alone spent ~10 s and ~350 MB on it.
    path = workbook(tmp_path / "bomb.xlsx", header_and_rows(ANN), filler=b'<row r="2"/>', repeat=3_500_000)
    assert path.stat().st_size < MB

    error, peak = refused(path)

    assert error.problem == "too_large"
    assert "xl/worksheets/sheet1.xml" in str(error) and "ZIP bomb" in str(error)
    assert peak < 5 * MB


def test_a_workbook_that_unzips_past_the_size_limit_is_refused_naming_the_setting(tmp_path):
    rows = header_and_rows(*([ANN[0] + str(n), *ANN[1:]] for n in range(3000)))
    path = workbook(tmp_path / "big.xlsx", rows)  # ~1 MB of sheet, packed as spreadsheets pack

    error, peak = refused(path, ReadLimits(max_file_mb=0.5))

    assert error.problem == "too_large"
    assert "unzips to" in str(error) and "0.5 MB" in str(error) and "FOLLOWUP_MAX_FILE_MB" in str(error)
    assert peak < 2 * MB
    assert len(read_batch(path, limits=ReadLimits(max_file_mb=2)).frame) == 3000


def test_a_csv_past_the_size_limit_is_refused_unread(tmp_path):
    path = write_csv(tmp_path / "big.csv", [HEADER, *([ANN[0] + str(n), *ANN[1:]] for n in range(20_000))])

    error, peak = refused(path, ReadLimits(max_file_mb=0.25))

    assert error.problem == "too_large"
    assert f"{path.name} is" in str(error) and "FOLLOWUP_MAX_FILE_MB" in str(error)
    assert peak < MB


# ----------------------------------------------------------------------------- columns and grid


def test_a_csv_with_more_columns_than_allowed_is_refused_naming_the_setting(tmp_path):
    wide = write_csv(tmp_path / "wide.csv", [HEADER + [f"x{n}" for n in range(995)], ANN])

    error, _ = refused(wide)

    assert error.problem == "too_large"
    assert "1,001 columns" in str(error) and "1,000" in str(error) and "FOLLOWUP_MAX_COLUMNS" in str(error)
    assert len(read_batch(wide, limits=ReadLimits(max_columns=1001)).frame) == 1


def test_a_sheet_whose_dimension_spans_past_the_limits_is_refused_before_its_rows_are_read(tmp_path):
    wide = workbook(tmp_path / "wide.xlsx", header_and_rows(ANN), dimension="A1:XFD2")
    error, _ = refused(wide)
    assert error.problem == "too_large" and "16,384 columns" in str(error) and "FOLLOWUP_MAX_COLUMNS" in str(error)

    # 900 columns by Excel's every row: 7 GB of cells once read, from a file of a few hundred bytes.
    grid = workbook(tmp_path / "grid.xlsx", header_and_rows(ANN), dimension="A1:AHP1048576")
    error, _ = refused(grid)
    assert error.problem == "too_large" and "1,048,576 rows by 900 columns" in str(error)
    assert "FOLLOWUP_MAX_FILE_MB" in str(error)


def test_a_row_wider_than_allowed_stops_the_read_where_the_dimension_says_nothing(tmp_path):
    rows = header_and_rows(ANN) + [f'<row r="3">{cells(3, BO)}{cells(3, ["far"], "BML")}</row>']
    path = workbook(tmp_path / "far.xlsx", rows)  # no dimension: only reading finds column 1,700

    error, _ = refused(path)

    assert error.problem == "too_large" and "1,702 columns" in str(error) and "FOLLOWUP_MAX_COLUMNS" in str(error)


def test_padded_rows_that_fit_the_columns_still_stop_at_the_grid_limit(tmp_path):
    rows = header_and_rows(ANN) + [f'<row r="{n}">{cells(n, ["x"], "ALK")}</row>' for n in range(3, 2000)]
    path = workbook(tmp_path / "padded.xlsx", rows)  # each row reaches column 999

    error, peak = refused(path, ReadLimits(max_file_mb=1))

    assert error.problem == "too_large" and "by 999 columns" in str(error)
    assert peak < 4 * MB


def test_a_cell_with_only_a_format_far_right_is_no_column_while_reading_but_counts_in_the_stored_range(tmp_path):
    rows = header_and_rows(ANN)
    rows[1] = rows[1].replace("</row>", '<c r="XFD2" s="1"/></row>')  # holds a format, no value
    batch = read_batch(workbook(tmp_path / "no-range.xlsx", rows))
    assert batch.frame["candidate_id"].tolist() == ["C1"] and batch.extra_columns == []

    book = openpyxl.Workbook()
    book.active.append(HEADER)
    book.active.append(ANN)
    book.active.cell(row=2, column=16_384).font = Font(bold=True)
    book.save(tmp_path / "formatted.xlsx")  # as a spreadsheet saves it: the stored range reaches XFD
    error, _ = refused(tmp_path / "formatted.xlsx")
    assert error.problem == "too_large" and "A1:XFD2, counting cells that only hold a format" in str(error)


def test_rows_past_excels_last_row_are_refused_not_counted_one_by_one(tmp_path):
    rows = header_and_rows(ANN) + [f'<row r="3000000">{cells(3_000_000, BO)}</row>']
    path = workbook(tmp_path / "far-down.xlsx", rows)

    error, _ = refused(path)

    assert error.problem == "unreadable" and "1,048,576" in str(error)


# ----------------------------------------------------------------------------- through the settings


def test_the_settings_defaults_are_the_readers_defaults():
    settings = Settings()
    assert ReadLimits(settings.max_file_mb, settings.max_columns, settings.max_cell_chars) == ReadLimits()


def test_the_limits_reach_the_reader_from_the_settings_and_the_refusal_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_MAX_COLUMNS", "5")
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FOLLOWUP_DATABASE_URL", raising=False)
    setup = ImportSetup.of(Settings())
    path = write_csv(tmp_path / "round.csv", [HEADER, ANN])

    record = open_batch(path, setup)
    summary = read(path, None, record, setup)

    assert isinstance(summary, ImportSummary) and summary.refused
    assert "6 columns" in summary.reason and "FOLLOWUP_MAX_COLUMNS" in summary.reason
    with open_ledger(setup.ledger_url).connect() as conn:
        rows = conn.exec_driver_sql("SELECT status, reason FROM batches").all()
    assert rows == [("refused", summary.reason)]


# ----------------------------------------------------------------------------- long cells


def test_a_long_cell_quarantines_its_row_and_the_quarantine_keeps_only_its_start(tmp_path):
    notes, portfolio = "n" * 40_000, "p" * 1 * MB
    path = write_csv(tmp_path / "long.csv", [HEADER + ["notes", "Portfolio"], ANN + [notes, ""], BO + ["", portfolio],
                                             ["C3", "cy@example.com", "Cy", "Ok", "Designer", "offer", "", ""]])  # fmt: skip

    checked = validation.validate_batch(read_batch(path), batch_id="long", docs_dir=None)

    assert checked.valid["candidate_id"].tolist() == ["C3"]
    by_id = checked.quarantine.set_index("candidate_id")
    assert "Portfolio is too long (1048576 characters" in by_id.loc["C2", "reason"]
    assert "FOLLOWUP_MAX_CELL_CHARS" in by_id.loc["C2", "reason"]
    for candidate, column, letter, size in (("C1", "notes", "n", 40_000), ("C2", "Portfolio", "p", MB)):
        cell = by_id.loc[candidate, column]
        assert cell == letter * 32_767 + f" [cut here: the cell in your file has {size:,} characters]"
    written = validation.write_quarantine(checked, tmp_path / "quarantine.csv")
    assert written.stat().st_size < 100_000


def test_the_cell_limit_travels_through_the_import_setup(tmp_path):
    path = write_csv(tmp_path / "round.csv", [HEADER + ["Referral"], ANN + ["r" * 150], BO + ["short"]])
    setup = ImportSetup(f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path / "docs", tmp_path / "quarantine",
                        limits=ReadLimits(max_cell_chars=100))  # fmt: skip
    record = open_batch(path, setup)

    checked, quarantine_file = validate(read(path, None, record, setup), record, setup)

    assert checked.valid["candidate_id"].tolist() == ["C2"]
    quarantined = pd.read_csv(quarantine_file, dtype=str)
    assert quarantined["Referral"].tolist() == ["r" * 100 + " [cut here: the cell in your file has 150 characters]"]
    assert "at most 100; FOLLOWUP_MAX_CELL_CHARS sets that" in quarantined["reason"][0]


def test_a_malformed_record_is_cut_in_the_quarantine_too(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(ANN) + "\n" + ",".join(BO) + ",extra," + "z" * 500 + "\n")

    checked = validation.validate_batch(read_batch(path), batch_id="r", docs_dir=None, max_cell_chars=200)

    raw = checked.quarantine["raw_record"].dropna().tolist()
    assert len(raw) == 1 and raw[0].endswith(" characters]") and len(raw[0]) < 300
