"""The importer: any file a recruiter hands over becomes canonical text columns, or a clear refusal."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.importing import (
    ALIASES,
    FREE_TEXT_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    ImportRefused,
    RawBatch,
    file_sha256,
    load_mapping,
    normalise_header,
    read_batch,
)

HEADER = ["candidate_id", "email", "first_name", "last_name", "role", "decision"]
ANN = ["C1", "ann@example.com", "Ann", "Lee", "Backend Engineer", "offer"]
BO = ["C2", "bo@example.com", "Bo", "Li", "Data Analyst", "reject"]


def write_csv(tmp_path: Path, rows, name="batch.csv", delimiter=",", encoding="utf-8", lineterminator="\r\n") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_bytes(tmp_path: Path, data: bytes, name="batch.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def write_text(tmp_path: Path, text: str, name="batch.csv", encoding="utf-8") -> Path:
    return write_bytes(tmp_path, text.encode(encoding), name)


def records(batch: RawBatch, columns=HEADER) -> list[list]:
    return [[None if pd.isna(value) else value for value in row] for row in batch.frame[columns].itertuples(index=False)]


def refusal(path: Path, **kwargs) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        read_batch(path, **kwargs)
    return caught.value


# ----------------------------------------------------------------------------- the frame


def test_a_plain_csv_becomes_every_canonical_column_as_text(tmp_path):
    batch = read_batch(write_csv(tmp_path, [HEADER, ANN, BO]))

    assert list(batch.frame.columns) == [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
    assert records(batch) == [ANN, BO]
    assert batch.frame["notes"].isna().all() and batch.frame["phone"].isna().all()
    assert isinstance(batch.frame.index, pd.RangeIndex) and list(batch.frame.index) == [0, 1]
    assert batch.line_numbers.dtype == np.int64 and batch.line_numbers.tolist() == [2, 3]
    assert (batch.format, batch.encoding, batch.delimiter, batch.sheet) == ("csv", "utf-8", ",", None)
    assert batch.source_headers == {column: column for column in HEADER}
    assert batch.extra_columns == [] and batch.malformed.empty
    assert list(batch.malformed.columns) == ["line", "reason", "raw"]


def test_every_cell_is_a_python_str_or_missing(tmp_path):
    batch = read_batch(write_csv(tmp_path, [HEADER + ["salary_min"], ANN + ["60000"], BO + [""]]))

    for value in batch.frame.to_numpy().ravel():
        assert isinstance(value, str) or pd.isna(value)
    assert batch.frame.loc[0, "salary_min"] == "60000"


def test_public_column_lists_follow_the_design():
    assert REQUIRED_COLUMNS == ("candidate_id", "email", "first_name", "last_name", "role", "decision")
    assert OPTIONAL_COLUMNS[:4] == ("phone", "timezone", "country", "channel")
    assert OPTIONAL_COLUMNS[-1] == "notes" and len(OPTIONAL_COLUMNS) == 23
    assert {"notes", "reasons", "interests", "first_name", "role", "company"} <= FREE_TEXT_COLUMNS
    assert "email" not in FREE_TEXT_COLUMNS


# ----------------------------------------------------------------------------- encodings and delimiters

NAMES = ["C9", "zoe@example.com", "Zoë", "O’Brien", "Façade Designer – €", "offer"]


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", lambda text: text.encode("utf-8")),
        ("utf-8-sig", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
        ("utf-16", lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
        ("utf-16", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
        ("cp1252", lambda text: text.encode("cp1252")),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "cp1252"],
)
def test_encodings_are_recognised_from_evidence(tmp_path, encoding, data):
    text = ",".join(HEADER) + "\r\n" + ",".join(NAMES) + "\r\n"
    batch = read_batch(write_bytes(tmp_path, data(text)))

    assert batch.encoding == encoding
    assert records(batch) == [NAMES]
    assert batch.source_headers["candidate_id"] == "candidate_id"  # no byte order mark left in the header


def test_bytes_cp1252_cannot_decode_fall_back_to_latin_1(tmp_path):
    # 0x81 is undefined in cp1252: the only encoding left that reads every byte is latin-1.
    data = (",".join(HEADER) + "\n").encode() + b"C1,ann@example.com,Zo\xeb,L\x81e,Dev,offer\n"
    batch = read_batch(write_bytes(tmp_path, data))

    assert batch.encoding == "latin-1"
    assert records(batch) == [["C1", "ann@example.com", "Zoë", "L\x81e", "Dev", "offer"]]


def test_utf16_without_a_byte_order_mark_is_recognised(tmp_path):
    text = ",".join(HEADER) + "\r\n" + ",".join(NAMES) + "\r\n"
    batch = read_batch(write_bytes(tmp_path, text.encode("utf-16-le")))

    assert batch.encoding == "utf-16-le"
    assert records(batch) == [NAMES]


def test_a_stray_control_character_deep_in_a_text_file_is_data_for_validation_to_judge(tmp_path):
    rows = [HEADER] + [[f"C{i}", f"c{i}@example.com", "Ann", "Lee", "Dev", "offer"] for i in range(4000)]
    rows[2500][2] = "A\x00n"
    batch = read_batch(write_csv(tmp_path, rows))

    assert len(batch.frame) == 4000
    assert batch.frame.loc[2499, "first_name"] == "A\x00n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed_from_the_header(tmp_path, delimiter):
    row = ["C1", "ann@example.com", "Ann", "Lee", "Sales, EMEA; North", "offer"]
    batch = read_batch(write_csv(tmp_path, [HEADER, row], delimiter=delimiter))

    assert batch.delimiter == delimiter
    assert records(batch) == [row]


def test_excel_unicode_text_export_is_read(tmp_path):
    # Excel's "Unicode Text (*.txt)": UTF-16 LE with a byte order mark, tab separated, CRLF lines.
    text = "\r\n".join("\t".join(row) for row in [HEADER, NAMES, BO]) + "\r\n"
    batch = read_batch(write_bytes(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "export.txt"))

    assert (batch.format, batch.encoding, batch.delimiter) == ("csv", "utf-16", "\t")
    assert records(batch) == [NAMES, BO]
    assert batch.line_numbers.tolist() == [2, 3]


def test_excel_sep_line_declares_the_delimiter(tmp_path):
    text = "sep=;\r\n" + ";".join(HEADER) + "\r\n" + ";".join(ANN) + "\r\n"
    batch = read_batch(write_text(tmp_path, text))

    assert batch.delimiter == ";"
    assert records(batch) == [ANN]
    assert batch.line_numbers.tolist() == [3]


def test_format_comes_from_the_content_not_the_file_name(tmp_path):
    csv_named_xlsx = write_csv(tmp_path, [HEADER, ANN], name="candidates.xlsx")
    assert read_batch(csv_named_xlsx).format == "csv"

    workbook = openpyxl.Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(ANN)
    workbook.save(tmp_path / "candidates.csv")
    assert read_batch(tmp_path / "candidates.csv").format == "xlsx"


# ----------------------------------------------------------------------------- records and line numbers


def test_quoted_newlines_and_blank_rows_keep_line_numbers_right(tmp_path):
    text = (
        ",".join(HEADER + ["notes"]) + "\n"
        "\n"  # line 2: blank
        'C1,ann@example.com,Ann,Lee,Dev,offer,"first line\nsecond line\nthird"\n'  # lines 3-5
        ",,,,,,\n"  # line 6: a row of empty cells is blank too
        "   \n"  # line 7: whitespace only
        "C2,bo@example.com,Bo,Li,Dev,reject,\n"  # line 8
        '"C3",cy@example.com,Cy,Ma,Dev,offer,"a\r\nb"\n'  # lines 9-10
        "C4,di@example.com,Di,Wu,Dev,offer,done\n"  # line 11
        "\n\n"
    )
    batch = read_batch(write_text(tmp_path, text))

    assert batch.frame["candidate_id"].tolist() == ["C1", "C2", "C3", "C4"]
    assert batch.line_numbers.tolist() == [3, 8, 9, 11]
    assert batch.frame.loc[0, "notes"] == "first line\nsecond line\nthird"
    assert batch.frame.loc[2, "notes"] == "a\r\nb"


def test_crlf_file_with_embedded_newlines(tmp_path):
    rows = [HEADER + ["notes"], ANN + ["line one\r\nline two"], BO + ["x\ny\nz"], ANN[:1] + ["c@example.com"] + ANN[2:] + ["ok"]]
    batch = read_batch(write_csv(tmp_path, rows, lineterminator="\r\n"))

    assert batch.frame["notes"].tolist() == ["line one\r\nline two", "x\ny\nz", "ok"]
    assert batch.line_numbers.tolist() == [2, 4, 7]


def test_old_mac_line_endings(tmp_path):
    text = ",".join(HEADER) + "\r" + ",".join(ANN) + "\r" + ",".join(BO)
    batch = read_batch(write_text(tmp_path, text))

    assert records(batch) == [ANN, BO]
    assert batch.line_numbers.tolist() == [2, 3]


def test_leading_blank_lines_move_the_header_down(tmp_path):
    text = "\n,,,\n" + ",".join(HEADER) + "\n" + ",".join(ANN) + "\n"
    batch = read_batch(write_text(tmp_path, text))

    assert records(batch) == [ANN]
    assert batch.line_numbers.tolist() == [4]


def test_cells_are_stripped_and_empty_cells_are_missing(tmp_path):
    row = ["  C1\t", " ann@example.com ", "\u00a0Ann\u00a0", "Lee\n", "   ", "offer "]
    batch = read_batch(write_csv(tmp_path, [HEADER, row]))

    assert records(batch) == [["C1", "ann@example.com", "Ann", "Lee", None, "offer"]]


def test_short_rows_are_padded_and_do_not_disturb_line_numbers(tmp_path):
    # A short record sends the file down the slower path; it must agree with the fast one.
    text = (
        ",".join(HEADER + ["notes"]) + "\n"
        'C1,ann@example.com,Ann,Lee,Dev,offer,"two\nlines"\n'
        "C2,bo@example.com\n"
        "C3,cy@example.com,Cy,Ma,Dev,offer,x\n"
    )
    batch = read_batch(write_text(tmp_path, text))

    assert batch.frame["candidate_id"].tolist() == ["C1", "C2", "C3"]
    assert pd.isna(batch.frame.loc[1, "first_name"])
    assert batch.line_numbers.tolist() == [2, 4, 5]
    assert batch.malformed.empty


def test_rows_with_more_cells_than_headers_are_reported_not_imported(tmp_path):
    text = (
        ",".join(HEADER) + "\n"
        "C1,ann@example.com,Ann,Lee,Sales, EMEA,offer\n"  # unquoted comma: 7 values
        "C2,bo@example.com,Bo,Li,Dev,reject,,\n"  # trailing empty cells are harmless
        'C3,cy@example.com,Cy,Ma,"Dev\nOps",offer\n'
    )
    batch = read_batch(write_text(tmp_path, text))

    assert batch.frame["candidate_id"].tolist() == ["C2", "C3"]
    assert batch.line_numbers.tolist() == [3, 4]
    assert batch.malformed["line"].tolist() == [2]
    assert batch.malformed.loc[0, "raw"] == "C1,ann@example.com,Ann,Lee,Sales, EMEA,offer"
    reason = batch.malformed.loc[0, "reason"]
    assert "7 values" in reason and "6 columns" in reason and "quotes" in reason


def test_a_quote_that_never_closes_is_reported_with_its_line(tmp_path):
    text = (
        ",".join(HEADER) + "\n"
        "C1,ann@example.com,Ann,Lee,Dev,offer\n"
        'C2,bo@example.com,"Bo,Li,Dev,reject\n'
        "C3,cy@example.com,Cy,Ma,Dev,offer\n"
    )
    batch = read_batch(write_text(tmp_path, text))

    assert batch.frame["candidate_id"].tolist() == ["C1"]
    assert batch.malformed["line"].tolist() == [3]
    assert "never closed" in batch.malformed.loc[0, "reason"]
    assert batch.malformed.loc[0, "raw"].startswith("C2,bo@example.com,Bo,Li")


# ----------------------------------------------------------------------------- cells are data


def test_formula_like_cells_and_null_words_stay_text(tmp_path):
    rows = [
        HEADER + ["notes"],
        ["NA", "null@example.com", "None", "nan", "=HYPERLINK(\"http://x\",\"y\")", "+1", "@foo"],
        ["N/A", "na@example.com", "NULL", "#N/A", "-2+3", "offer", "=1+1"],
    ]
    batch = read_batch(write_csv(tmp_path, rows))

    assert records(batch, HEADER + ["notes"]) == rows[1:]


def _originals(batch: RawBatch) -> dict[str, dict[int, str]]:
    return {column: dict(zip(rows.tolist(), text.to_pylist())) for column, (rows, text) in batch.originals.items()}


def _switched_off(patch, tier: str) -> None:
    """Make read_batch use the given CSV parser (the faster ones refuse)."""
    import followup.importing as importing

    def refuse(*args):
        raise importing.pa.ArrowInvalid("switched off")

    if tier in ("pandas", "csv module"):
        patch.setattr(importing, "_parse_with_arrow", refuse)
    if tier == "csv module":
        patch.setattr(importing, "_parse_with_pandas", lambda *args: None)


@pytest.mark.parametrize("tier", ["pyarrow", "pandas", "csv module"])
def test_the_cells_cleaning_changed_are_kept_as_the_file_had_them(tmp_path, tier):
    rows = [
        HEADER + ["recruiter_email", "Source"],
        ["C1", "José.Pérez@Example.COM", "  Ann ", "Lee", "Dev", "offer", "Priya@acme.io", " web"],
        ["", "", "", "", "", "", "", ""],  # a blank record: not a frame row
        ["C2", " bo@Example.com ", "Bo", "Li", "Dev", "reject", "   ", "ref"],
        ["C3", "Cy.Ma@example.com", "Cy", "Ma", "Dev", "offer", "", "\u00a0x\t"],
    ]
    path = write_csv(tmp_path, rows)
    with pytest.MonkeyPatch.context() as patch:
        _switched_off(patch, tier)
        batch = read_batch(path)

    assert batch.frame["email"].tolist() == ["José.Pérez@example.com", "bo@example.com", "Cy.Ma@example.com"]
    assert _originals(batch) == {
        # only what changed (the local part's case never changes), by frame row, before any cleaning
        "email": {0: "José.Pérez@Example.COM", 1: " bo@Example.com "},
        "first_name": {0: "  Ann "},
        "recruiter_email": {1: "   "},  # a blank cell became missing
        "Source": {0: " web", 2: "\u00a0x\t"},
    }
    for column, changed in batch.originals.items():
        assert np.all(np.diff(changed[0]) > 0)  # ascending, as the quarantine looks rows up


def test_a_malformed_record_shifts_the_rows_the_originals_name(tmp_path):
    text = ",".join(HEADER) + "\nC1,a@X.org,Ann,Lee,Dev,offer\nC2,b@x.org,Bo,Li,Dev,offer,too,many\nC3,c@Y.org,Cy,Ma,Dev,offer\n"
    batch = read_batch(write_text(tmp_path, text))

    assert batch.frame["candidate_id"].tolist() == ["C1", "C3"]
    assert _originals(batch) == {"email": {0: "a@X.org", 1: "c@Y.org"}}


def test_an_xlsx_keeps_the_cells_cleaning_changed(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["C1", "ann@Example.COM", " Ann ", "Lee", "Dev", "offer"])
    sheet.append(["C2", "bo@example.com", "Bo", "Li", "Dev", "offer"])
    workbook.save(tmp_path / "b.xlsx")
    batch = read_batch(tmp_path / "b.xlsx")

    assert _originals(batch) == {"email": {0: "ann@Example.COM"}, "first_name": {0: " Ann "}}


def test_source_headers_follow_the_files_column_order(tmp_path):
    rows = [
        ["Last Name", "Notes", "Referral Source", "Email Address", "Currency", "First Name", "Job", "Candidate ID",
         "Hiring Decision"],
        ["Lee", "n", "web", "ann@example.com", "EUR", "Ann", "Dev", "C1", "offer"],
    ]  # fmt: skip
    batch = read_batch(write_csv(tmp_path, rows))

    assert list(batch.source_headers.items()) == [
        ("last_name", "Last Name"), ("notes", "Notes"), ("Referral Source", "Referral Source"),
        ("email", "Email Address"), ("currency", "Currency"), ("first_name", "First Name"), ("role", "Job"),
        ("candidate_id", "Candidate ID"), ("decision", "Hiring Decision"),
    ]  # fmt: skip
    assert list(batch.frame.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)  # the frame stays canonical
    assert batch.originals == {}


def test_email_domains_are_lower_cased_but_not_local_parts(tmp_path):
    rows = [
        HEADER + ["recruiter_email"],
        ["C1", "Ann.Lee@Example.COM", "Ann", "Lee", "Dev", "offer", "Priya@Acme.IO"],
        ["C2", "bo@example.com", "Bo", "Li", "Dev", "reject", ""],
        ["C3", "NOT-AN-EMAIL", "Cy", "Ma", "Dev", "offer", "odd@x@Y.Org"],
    ]
    batch = read_batch(write_csv(tmp_path, rows))

    assert batch.frame["email"].tolist() == ["Ann.Lee@example.com", "bo@example.com", "NOT-AN-EMAIL"]
    assert batch.frame["recruiter_email"].tolist()[0] == "Priya@acme.io"
    assert pd.isna(batch.frame["recruiter_email"][1])
    assert batch.frame["recruiter_email"][2] == "odd@x@y.org"
    assert batch.frame["first_name"].tolist() == ["Ann", "Bo", "Cy"]  # only email columns


# ----------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("E-mail Address ", "email_address"),
        ("First Name", "first_name"),
        ("candidateId", "candidate_id"),
        ("CANDIDATE_ID", "candidate_id"),
        ("Salary (Min.)", "salary_min"),
        ("  Time   Zone  ", "time_zone"),
        ("Candidate's Email", "candidates_email"),
        ("ｅｍａｉｌ", "email"),
    ],
)
def test_normalise_header(text, expected):
    assert normalise_header(text) == expected


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("First Name", "first_name"),
        ("Given Name", "first_name"),
        ("Last Name", "last_name"),
        ("Surname", "last_name"),
        ("Email Address", "email"),
        ("E-mail", "email"),
        ("Candidate Id", "candidate_id"),
        ("Candidate ID", "candidate_id"),
        ("Applicant ID", "candidate_id"),
        ("Job", "role"),
        ("Job Title", "role"),
        ("Position", "role"),
        ("Requisition Title", "role"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
        ("Time Zone", "timezone"),
        ("Recruiter Time Zone", "recruiter_timezone"),
        ("Recruiter TZ", "recruiter_timezone"),
        ("Decision", "decision"),
        ("Salary Min", "salary_min"),
        ("Currency", "currency"),
        ("Location", "location"),
        ("Recruiter", "recruiter_name"),
        ("Recruiter Email", "recruiter_email"),
        ("Hiring Manager", "hiring_manager"),
        ("StartDate", "start_date"),
        ("offer-deadline", "offer_deadline"),
    ],
)
def test_ats_headers_map_to_canonical_columns(tmp_path, header, column):
    headers = {"candidate_id": "Candidate ID", "email": "Email", "first_name": "First Name", "last_name": "Last Name",
               "role": "Job", "decision": "Decision"}
    headers[column] = header
    batch = read_batch(write_csv(tmp_path, [list(headers.values()), ["x"] * len(headers)]))

    assert batch.source_headers[column] == header
    assert batch.frame.loc[0, column] == "x"
    assert batch.extra_columns == []


def test_a_greenhouse_style_export_needs_no_mapping(tmp_path):
    header = ["Candidate ID", "First Name", "Last Name", "Email Address", "Job Title", "Decision", "Phone Number",
              "Recruiter", "Source", "Status"]
    row = ["4021", "Ann", "Lee", "ann@example.com", "Backend Engineer", "offer", "+44 20 7946 0958", "Priya", "Referral",
           "Active"]
    batch = read_batch(write_csv(tmp_path, [header, row]))

    assert records(batch) == [["4021", "ann@example.com", "Ann", "Lee", "Backend Engineer", "offer"]]
    assert batch.frame.loc[0, "recruiter_name"] == "Priya"
    # Ambiguous headers are never guessed: "Status" is not a decision.
    assert batch.extra_columns == ["Source", "Status"]
    assert batch.frame.loc[0, "Status"] == "Active"


def test_aliases_are_keyed_by_normalised_header_and_squash_without_clashes():
    assert ALIASES["email_address"] == "email" and ALIASES["surname"] == "last_name"
    assert all(key == normalise_header(key) for key in ALIASES)
    assert set(ALIASES.values()) == set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    for ambiguous in ("status", "name", "title", "outcome", "rejection_reason", "id"):
        assert ambiguous not in ALIASES
    squashed: dict[str, str] = {}
    for key, column in ALIASES.items():
        assert squashed.setdefault(key.replace("_", ""), column) == column


def test_extra_columns_keep_their_header_text(tmp_path):
    header = HEADER + ["  Source ", "", "", "Source"]
    rows = [header, ANN + ["Referral", "", "loose", "Agency"], BO + ["Website", "", "", ""]]
    batch = read_batch(write_csv(tmp_path, rows))

    assert batch.extra_columns == ["Source", "column_9", "Source (2)"]
    assert batch.source_headers["Source"] == "  Source "
    assert batch.source_headers["column_9"] == ""
    assert batch.frame["Source"].tolist() == ["Referral", "Website"]
    assert batch.frame.loc[0, "column_9"] == "loose" and pd.isna(batch.frame.loc[1, "column_9"])


# ----------------------------------------------------------------------------- mapping


def test_a_json_mapping_wins_over_aliases(tmp_path):
    header = ["Ref", "Email", "Work Email", "Given", "Family", "Job", "Verdict"]
    row = ["C1", "ann@home.example", "ann@work.example", "Ann", "Lee", "Dev", "offer"]
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps(
        {"Ref": "candidate_id", "Work Email": "email", "Email": None, "given": "First Name", "Family": "last_name",
         "Verdict": "decision"}
    ))
    mapping = load_mapping(mapping_file)
    batch = read_batch(write_csv(tmp_path, [header, row]), mapping=mapping)

    assert records(batch) == [["C1", "ann@work.example", "Ann", "Lee", "Dev", "offer"]]
    assert batch.extra_columns == ["Email"]
    assert batch.source_headers["first_name"] == "Given"


@pytest.mark.parametrize(
    "text",
    [
        "source,target\nRef,candidate_id\nVerdict,decision\n",
        "Ref,candidate_id\nVerdict,decision\n",
        "Ref;candidate_id\r\nVerdict;decision\r\n\r\n",
    ],
    ids=["with-header", "without-header", "semicolons"],
)
def test_a_two_column_csv_mapping(tmp_path, text):
    mapping_file = tmp_path / "mapping.csv"
    mapping_file.write_text(text)
    mapping = load_mapping(mapping_file)
    header = ["Ref", "Email", "First Name", "Last Name", "Job", "Verdict"]
    batch = read_batch(write_csv(tmp_path, [header, ANN]), mapping=mapping)

    assert mapping == {"Ref": "candidate_id", "Verdict": "decision"}
    assert records(batch) == [ANN]


@pytest.mark.parametrize(
    ("name", "text", "named"),
    [
        ("mapping.json", '{"Mail": "e_mail_addr"}', "e_mail_addr"),
        ("mapping.csv", "Mail,email\nVerdict,outcome\n", "outcome"),
        ("mapping.json", '{"Mail": ["email"]}', "JSON object"),
        ("mapping.json", '{"Mail": "email"', "not valid JSON"),
        ("mapping.csv", "Mail,email,extra\n", "two columns"),
        ("mapping.csv", "", "maps no columns"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_problem(tmp_path, name, text, named):
    mapping_file = tmp_path / name
    mapping_file.write_text(text)
    with pytest.raises(ImportRefused) as caught:
        load_mapping(mapping_file)

    assert caught.value.problem == "bad_mapping"
    assert named in str(caught.value)


def test_a_mapping_passed_in_code_is_checked_too(tmp_path):
    error = refusal(write_csv(tmp_path, [HEADER, ANN]), mapping={"Mail": "mail"})
    assert error.problem == "bad_mapping" and '"Mail" -> "mail"' in str(error)


# ----------------------------------------------------------------------------- refusals


def test_missing_required_columns_are_named_with_a_way_out(tmp_path):
    header = ["Candidate", "Mail", "Full Name", "Job", "Decision"]
    error = refusal(write_csv(tmp_path, [header, ["1", "a@example.com", "Ann Lee", "Dev", "offer"]]))
    message = str(error)

    assert error.problem == "missing_columns"
    assert "candidate_id, email, first_name, last_name" in message
    assert "role" not in message.split("\n")[0] and "decision" not in message.split("\n")[0]
    for header_seen in header:
        assert f'"{header_seen}"' in message
    assert "--mapping FILE" in message and '{"Your Header": "candidate_id"}' in message
    assert '"First Name"' in message  # an accepted name for a missing column
    assert "split it into first and last name" in message


def test_two_columns_meaning_the_same_thing_are_refused(tmp_path):
    header = HEADER + ["E-mail Address"]
    error = refusal(write_csv(tmp_path, [header, ANN + ["x@example.com"]]))

    assert error.problem == "duplicate_columns"
    assert '"email"' in str(error) and '"E-mail Address"' in str(error)
    assert "--mapping" in str(error)


@pytest.mark.parametrize(
    ("data", "problem", "says"),
    [
        (b"", "empty", "empty"),
        (b"  \r\n\n ", "empty", "empty"),
        (codecs.BOM_UTF16_LE, "empty", "empty"),
        ((",".join(HEADER) + "\n\n,,,\n").encode(), "empty", "no candidate rows"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "unsupported_format", ".xlsx"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "unsupported_format", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), "unreadable", "binary"),
        (b"PK\x03\x04 this is not really a zip", "unreadable", "damaged"),
    ],
    ids=["zero-bytes", "whitespace", "bom-only", "header-only", "legacy-xls", "pdf", "png", "broken-zip"],
)
def test_files_that_are_not_candidate_lists_are_refused(tmp_path, data, problem, says):
    error = refusal(write_bytes(tmp_path, data, "batch.xls"))

    assert error.problem == problem
    assert says in str(error)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "batch.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("candidates.csv", ",".join(HEADER))
    error = refusal(path)

    assert error.problem == "unsupported_format"
    assert "CSV UTF-8" in str(error)


def test_a_missing_file_is_refused_not_raised(tmp_path):
    assert refusal(tmp_path / "nope.csv").problem == "unreadable"


def test_refusals_survive_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(ImportRefused("empty", "x.csv is empty")))
    assert (error.problem, str(error)) == ("empty", "x.csv is empty")


# ----------------------------------------------------------------------------- XLSX


def test_an_xlsx_workbook_is_read_from_its_first_sheet_with_data(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Cover"
    sheet = workbook.create_sheet("Round 7")
    sheet.append([])
    sheet.append(HEADER + ["salary_min", "start_date", "decided_at", "notes"])
    sheet.append([4021, "Ann.Lee@Example.com", " Ann ", "Lee", "Dev", "offer", 60000.0, dt.date(2025, 3, 3),
                  dt.datetime(2025, 2, 1, 9, 30), "line one\nline two"])
    sheet.append([])
    sheet.append(["C2", "bo@example.com", "Bo", "Li", "Dev", "reject", 55000.5, None, None, True])
    path = tmp_path / "round.xlsx"
    workbook.save(path)

    batch = read_batch(path)

    assert (batch.format, batch.sheet, batch.encoding, batch.delimiter) == ("xlsx", "Round 7", None, None)
    assert batch.line_numbers.tolist() == [3, 5]
    first, second = batch.frame.iloc[0], batch.frame.iloc[1]
    assert [first[c] for c in HEADER] == ["4021", "Ann.Lee@example.com", "Ann", "Lee", "Dev", "offer"]
    assert (first["salary_min"], first["start_date"], first["decided_at"]) == ("60000", "2025-03-03", "2025-02-01T09:30:00")
    assert first["notes"] == "line one\nline two"
    assert (second["salary_min"], second["notes"]) == ("55000.5", "TRUE")
    assert pd.isna(second["start_date"])


def test_an_xlsx_missing_columns_is_refused_like_a_csv(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Name", "Email"])
    workbook.active.append(["Ann Lee", "ann@example.com"])
    workbook.save(tmp_path / "b.xlsx")

    error = refusal(tmp_path / "b.xlsx")
    assert error.problem == "missing_columns" and '"Name"' in str(error)


def test_an_empty_workbook_is_refused(tmp_path):
    openpyxl.Workbook().save(tmp_path / "b.xlsx")
    assert refusal(tmp_path / "b.xlsx").problem == "empty"


def test_file_sha256(tmp_path):
    path = write_bytes(tmp_path, b"candidate_id\n1\n" * 100_000)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- properties

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=st.one_of(
    st.binary(max_size=400),
    st.binary(max_size=300).map(lambda tail: (",".join(HEADER) + "\n").encode() + tail),
    st.binary(max_size=300).map(lambda tail: b"PK\x03\x04" + tail),
    st.text(alphabet=st.sampled_from(list(',;\t|"\r\n \x00abc@')), max_size=200).map(
        lambda tail: (",".join(HEADER) + "\r\n" + tail).encode("utf-16")
    ),
))
def test_any_bytes_give_a_batch_or_a_refusal(tmp_path, data):
    path = write_bytes(tmp_path, data, "any.csv")
    try:
        batch = read_batch(path)
    except ImportRefused as error:
        assert error.problem in {"unreadable", "empty", "missing_columns", "duplicate_columns", "unsupported_format"}
        assert str(error)
        return
    assert len(batch.frame) == len(batch.line_numbers)
    assert batch.line_numbers.dtype == np.int64
    assert (np.diff(batch.line_numbers) > 0).all()


# Any character a text file can hold except NUL, with the ones that matter to CSV made common.
cells = st.text(
    st.one_of(
        st.characters(codec="utf-8", exclude_characters="\x00"),
        st.sampled_from(list(',;\t|"\r\n \xa0\x1c@Ab')),
    ),
    max_size=12,
)


@FAST
@given(
    rows=st.lists(st.lists(cells, min_size=6, max_size=6), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    ending=st.sampled_from(["none", "short row", "unclosed quote"]),
)
def test_any_cell_text_reads_back_as_written(tmp_path, rows, delimiter, encoding, ending):
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows([HEADER, *rows])
    text = buffer.getvalue()
    expected_rows, expected_lines, line = [], [], 2
    for row in rows:
        stripped = [cell.strip() or None for cell in row]
        if stripped[1] and "@" in stripped[1]:
            local, _, domain = stripped[1].rpartition("@")
            stripped[1] = f"{local}@{domain.lower()}"
        if any(stripped):
            expected_rows.append(stripped)
            expected_lines.append(line)
        line += 1 + sum(cell.count("\n") + cell.count("\r") - cell.count("\r\n") for cell in row)
    # Endings that push the file down the slower parsers, which must agree with the fast one.
    if ending == "short row":
        text += "last\r\n"
        expected_rows.append(["last", None, None, None, None, None])
        expected_lines.append(line)
    elif ending == "unclosed quote":
        text += '"never closed\r\nat all\r\n'
    path = write_bytes(tmp_path, text.encode(encoding), "cells.csv")

    try:
        batch = read_batch(path)
    except ImportRefused as error:
        assert error.problem == "empty" and not expected_rows and ending != "unclosed quote"
        return
    assert records(batch) == expected_rows
    assert batch.line_numbers.tolist() == expected_lines
    if ending == "unclosed quote":
        assert batch.malformed["line"].tolist() == [line]
    else:
        assert batch.malformed.empty


def _reading(path: Path):
    try:
        batch = read_batch(path)
    except ImportRefused as error:
        return error.problem
    originals = {column: (rows.tolist(), text.to_pylist()) for column, (rows, text) in batch.originals.items()}
    return records(batch), batch.line_numbers.tolist(), batch.malformed.to_dict("list"), originals


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(st.sampled_from(list('ab ,;"\r\n\t\xa0')), max_size=60))
def test_the_fast_and_the_fallback_parsers_read_alike(tmp_path, body):
    # Three parsers share the work (pyarrow, pandas' C parser, the csv module); switching the faster
    # ones off must not change what a recruiter gets, even for badly quoted text.
    import followup.importing as importing

    def refuse(*args):
        raise importing.pa.ArrowInvalid("switched off")

    path = write_text(tmp_path, ",".join(HEADER) + "\n" + body, "body.csv")
    fast = _reading(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importing, "_parse_with_arrow", refuse)
        pandas_only = _reading(path)
        patch.setattr(importing, "_parse_with_pandas", lambda *args: None)
        csv_module_only = _reading(path)

    assert fast == pandas_only == csv_module_only
