"""Validation: every rule passes a good row and quarantines a bad one with a readable reason.

One batch holds a passing and a failing row per rule and is validated once for the module
(the Great Expectations context is built once per process anyway); a second batch checks the
company defaults. RawBatch objects are built directly, in the shape importing.py hands over.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from followup import validation
from followup.csvfiles import neutralise, write_csv
from followup.importing import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, RawBatch, read_batch
from followup.validation import SUITE_NAME, Validated, gate_reason, validate_batch, write_quarantine

CANONICAL = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
E164 = phonenumbers.PhoneNumberFormat.E164
# The file's own headers for some columns: reasons and the quarantine use them.
HEADERS = {"email": "Email Address", "first_name": "First Name", "decided_at": "Decision Date"}


def raw_batch(rows: list[dict], *, headers: dict | None = None, malformed=(), extra: tuple = ()) -> RawBatch:
    """A RawBatch as importing.py makes it: text or NA, every canonical column, lines from 2."""
    headers = headers or {}
    present = [c for c in (*CANONICAL, *extra) if any(c in row for row in rows)]
    frame = pd.DataFrame(
        {c: pd.array([row.get(c) for row in rows], dtype="str") for c in (*CANONICAL, *extra)},
        index=pd.RangeIndex(len(rows)),
    )
    return RawBatch(
        frame=frame,
        line_numbers=np.arange(2, len(rows) + 2, dtype=np.int64),
        source_headers={c: headers.get(c, c) for c in present},
        extra_columns=list(extra),
        malformed=pd.DataFrame(
            {
                "line": np.array([m[0] for m in malformed], dtype=np.int64),
                "reason": pd.array([m[1] for m in malformed], dtype="str"),
                "raw": pd.array([m[2] for m in malformed], dtype="str"),
            }
        ),
        format="csv",
        encoding="utf-8",
        delimiter=",",
        sheet=None,
    )


def person(candidate_id: str, **values) -> dict:
    row = {"candidate_id": candidate_id, "email": f"{candidate_id.lower()}@example.com", "first_name": "Ann",
           "last_name": "Lee", "role": "Data Engineer", "decision": "offer"}  # fmt: skip
    row.update(values)
    return {k: v for k, v in row.items() if v is not None}


# (candidate id, row values, failing columns or None when the row must pass, words the reason must hold)
# fmt: off
CASES = [
    ("OK", {}, None, None),
    ("NO-FIRST", {"first_name": None}, "first_name", "First Name is required"),
    ("NO-ROLE", {"role": None}, "role", "role is required"),
    ("NO-DECISION", {"decision": None}, "decision", "decision is required"),
    ("NO-EMAIL", {"email": None}, "email", "Email Address is required"),
    ("EMAIL-OK", {"email": "ann.lee+offers@mail.example.co.uk"}, None, None),
    ("EMAIL-BAD", {"email": "bob@@x"}, "email", "Email Address 'bob@@x' is not a valid address"),
    ("EMAIL-DOT", {"email": "bob.@example.com"}, "email", "is not a valid address"),
    ("REC-OK", {"recruiter_email": "priya.nair@northwind.example"}, None, None),
    ("REC-BAD", {"recruiter_email": "priya.nair@"}, "recruiter_email",
     "recruiter_email 'priya.nair@' is not a valid address"),
    ("DEC-OK", {"decision": "REJECT"}, None, None),
    ("DEC-BAD", {"decision": "hired"}, "decision", "decision 'hired' must be offer or reject"),
    ("CH-OK", {"channel": "In-Person"}, None, None),
    ("CH-BAD", {"channel": "sms"}, "channel", "channel 'sms' must be email, voicemail or in_person"),
    ("VM-NAT", {"channel": "voicemail", "phone": "(212) 555-0123", "country": "US"}, None, None),
    ("VM-INTL", {"channel": "voicemail", "phone": "+44 20 7946 0321"}, None, None),
    ("VM-TRUNK", {"channel": "voicemail", "phone": "+44 (0)20 7946 0321"}, None, None),
    ("VM-NONE", {"channel": "voicemail"}, "phone", "phone is required for voicemail and must be a valid number"),
    ("PH-BAD", {"phone": "12345", "country": "US"}, "phone", "phone '12345' is not a valid phone number"),
    ("PH-NOREGION", {"phone": "020 7946 0321"}, "phone", "with its country code"),
    ("RPH-BAD", {"recruiter_phone": "+1 555"}, "recruiter_phone",
     "recruiter_phone '+1 555' is not a valid phone number"),
    ("SAL-OK", {"salary_min": "85,000", "salary_max": "95000.00", "currency": "eur"}, None, None),
    ("SAL-ORDER", {"salary_min": "100000", "salary_max": "90000"}, "salary_min;salary_max",
     "salary_min '100000' is more than salary_max '90000'"),
    ("SAL-NEG", {"salary_min": "-5", "salary_max": "10"}, "salary_min", "salary_min '-5' must not be negative"),
    ("SAL-TEXT", {"salary_max": "85k"}, "salary_max", "salary_max '85k' is not a number"),
    ("CUR-BAD", {"currency": "EURO"}, "currency", "currency 'EURO' is not an ISO 4217 currency code"),
    ("TZ-OK", {"timezone": "europe/london"}, None, None),
    ("TZ-BAD", {"timezone": "Mars/Olympus_Mons"}, "timezone", "timezone 'Mars/Olympus_Mons' is not a known time zone"),
    ("RTZ-OK", {"recruiter_timezone": "australia/sydney"}, None, None),
    ("RTZ-BAD", {"recruiter_timezone": "London"}, "recruiter_timezone",
     "recruiter_timezone 'London' is not a known time zone"),
    ("CC-OK", {"country": "gb"}, None, None),
    ("CC-BAD", {"country": "UK"}, "country", "country 'UK' is not a two-letter ISO 3166 country code"),
    ("LOC-OK", {"locale": "en_gb"}, None, None),
    ("LOC-BAD", {"locale": "english"}, "locale", "locale 'english' is not a language tag"),
    ("DATE-ISO", {"decided_at": "2026-11-20", "offer_deadline": "2026-11-27T17:00:00Z"}, None, None),
    ("DATE-TIME", {"decided_at": "2026-11-20 14:30", "start_date": "2027/01/04",
                   "meeting_at": "11/20/2026 2:30 PM"}, None, None),
    ("DATE-BAD", {"decided_at": "31/02/2026"}, "decided_at", "Decision Date '31/02/2026' is not a date"),
    ("DATE-WORDS", {"meeting_at": "next Tuesday"}, "meeting_at", "meeting_at 'next Tuesday' is not a date"),
    # An ATS's "no end date" and an empty date exported as year 0 are beyond what can be held.
    ("DATE-FAR", {"start_date": "9999-12-31"}, "start_date", "start_date '9999-12-31' is not a date from 1900"),
    ("DATE-ZERO", {"decided_at": "0000-01-01"}, "decided_at", "Decision Date '0000-01-01' is not a date"),
    ("DEADLINE", {"decided_at": "2026-11-20 09:00", "offer_deadline": "2026-11-19"}, "offer_deadline;decided_at",
     "offer_deadline '2026-11-19' is not after Decision Date '2026-11-20 09:00'"),
    ("LONG-OK", {"notes": "n" * 4000}, None, None),
    ("LONG", {"first_name": "A" * 201}, "first_name", "First Name is too long (201 characters, at most 200)"),
    ("TEXT-OK", {"notes": "Prefers calls.\nAfter 5 pm:\tweekdays", "reasons": "clear thinking; strong SQL"},
     None, None),
    ("CRLF", {"notes": "line one\r\nline two"}, None, None),
    ("BELL", {"notes": "ring\x07ring"}, "notes", "notes contains the control character U+0007"),
    ("C1", {"interests": "mentoring\x85travel"}, "interests", "interests contains the control character U+0085"),
    ("C\tTAB", {"email": "ctab@example.com"}, "candidate_id", "candidate_id contains the control character U+0009"),
    ("DUP", {}, "candidate_id", "appears more than once (also on line "),
    ("DUP", {"first_name": "Bo"}, "candidate_id", "appears more than once (also on line "),
    ("MANY", {}, "candidate_id", None),
    ("MANY", {}, "candidate_id", None),
    ("MANY", {}, "candidate_id", None),
    ("BAD-TWICE", {"decision": "maybe", "currency": "QQQ"}, "decision;currency",
     "decision 'maybe' must be offer or reject; currency 'QQQ' is not an ISO 4217"),
    ("INJECT", {"decision": "hire", "notes": "=cmd|' /C calc'!A0", "location": "+1", "company": "-2",
                "hiring_manager": "@x", "Referral Source": "@mention"}, "decision", None),
]
# fmt: on
MALFORMED = [(90, "this row has 31 values but the header has 28 columns", 'X-1,"bad,row')]


def _example_phones() -> list[tuple[str, str, str | None]]:
    """National-format example numbers of every ISO region libphonenumber knows, with its E.164."""
    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS & validation.COUNTRIES):
        number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if number is not None:
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            expected = phonenumbers.parse(national, region)
            valid = phonenumbers.is_valid_number(expected)
            cases.append((region, national, phonenumbers.format_number(expected, E164) if valid else None))
    return cases


EXAMPLE_PHONES = _example_phones()


def test_nothing_reaches_the_terminal(capfd, tmp_path):
    """GX builds its context, validates and writes Data Docs without a word on stdout or stderr."""
    validation.suite._gx_cache.clear()  # rebuild the context inside the capture
    batch = raw_batch([person("Q1"), person("Q2", decision="nope")])
    checked = validate_batch(batch, batch_id="quiet", docs_dir=tmp_path)
    out, err = capfd.readouterr()
    assert len(checked.quarantine) == 1
    assert out == "" and err == ""


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("docs")


@pytest.fixture(scope="module")
def raw() -> RawBatch:
    rows = [person(cid, **values) for cid, values, _, _ in CASES]
    rows.append({k: v for k, v in person("X").items() if k != "candidate_id"})  # no candidate id at all
    rows += [
        person(f"PH-{region}", channel="voicemail", phone=national, country=region)
        for region, national, _ in EXAMPLE_PHONES
    ]
    return raw_batch(rows, headers=HEADERS, malformed=MALFORMED, extra=("Referral Source",))


@pytest.fixture(scope="module")
def checked(raw, docs_dir) -> Validated:
    return validate_batch(raw, batch_id="b-test", docs_dir=docs_dir)


def _line(raw: RawBatch, candidate_id: str) -> list[int]:
    return [int(line) for line, cid in zip(raw.line_numbers, raw.frame["candidate_id"]) if cid == candidate_id]


@pytest.mark.parametrize("case", [c for c in CASES if c[2] is None], ids=lambda c: c[0])
def test_a_good_row_passes(checked, case):
    assert case[0] in set(checked.valid["candidate_id"])
    assert case[0] not in set(checked.quarantine["candidate_id"].dropna())


@pytest.mark.parametrize("case", [c for c in CASES if c[2] and c[0] not in ("DUP", "MANY")], ids=lambda c: c[0])
def test_a_bad_row_is_quarantined_with_a_readable_reason(raw, checked, case):
    cid, _, columns, words = case
    row = checked.quarantine.loc[checked.quarantine["candidate_id"] == cid]
    assert len(row) == 1, f"{cid} should be quarantined once"
    assert row["line"].item() == _line(raw, cid)[0]
    assert row["columns"].item() == columns
    if words:
        assert words in row["reason"].item()
    assert cid not in set(checked.valid["candidate_id"])


def test_a_missing_candidate_id_is_quarantined(checked):
    row = checked.quarantine.loc[checked.quarantine["reason"] == "candidate_id is required but empty"]
    assert len(row) == 1 and pd.isna(row["candidate_id"].item())
    assert row["Email Address"].item() == "x@example.com"


def test_every_record_sharing_a_duplicated_id_is_quarantined_naming_the_others(raw, checked):
    dup, many = _line(raw, "DUP"), _line(raw, "MANY")
    reasons = checked.quarantine.set_index("line")["reason"]
    assert reasons[dup[0]] == f"candidate_id 'DUP' appears more than once (also on line {dup[1]})"
    assert reasons[dup[1]] == f"candidate_id 'DUP' appears more than once (also on line {dup[0]})"
    assert reasons[many[2]] == f"candidate_id 'MANY' appears more than once (also on lines {many[0]}, {many[1]})"
    assert not set(checked.valid["candidate_id"]) & {"DUP", "MANY"}


def test_malformed_records_join_the_quarantine(checked):
    row = checked.quarantine.loc[checked.quarantine["line"] == 90]
    assert row["reason"].item() == MALFORMED[0][1]
    assert row["raw_record"].item() == MALFORMED[0][2]


def test_counts_and_bad_share(raw, checked):
    assert checked.rows == len(raw.frame) + 1
    assert len(checked.valid) + len(checked.quarantine) == checked.rows
    assert checked.bad_share == pytest.approx(len(checked.quarantine) / checked.rows)


def test_valid_rows_are_typed_for_storage(checked):
    valid = checked.valid.set_index("candidate_id", drop=False)
    assert list(checked.valid.columns) == list(validation.TYPED_COLUMNS)  # extra columns are not stored
    for column in validation.DATE_COLUMNS:
        assert str(checked.valid[column].dtype) == "datetime64[ns, UTC]"
    assert checked.valid["salary_min"].dtype == np.float64 and checked.valid["source_line"].dtype == np.int64
    assert (valid.loc["SAL-OK", "salary_min"], valid.loc["SAL-OK", "salary_max"]) == (85000.0, 95000.0)
    assert valid.loc["SAL-OK", "currency"] == "EUR"
    assert valid.loc["DEC-OK", "decision"] == "reject"
    assert valid.loc["CH-OK", "channel"] == "in_person" and valid.loc["OK", "channel"] == "email"
    assert valid.loc["VM-NAT", "phone"] == "+12125550123"
    assert valid.loc["VM-INTL", "phone"] == "+442079460321" and valid.loc["VM-TRUNK", "phone"] == "+442079460321"
    assert pd.isna(valid.loc["OK", "phone"]) and pd.isna(valid.loc["OK", "timezone"])
    assert valid.loc["TZ-OK", "timezone"] == "Europe/London"
    assert valid.loc["RTZ-OK", "recruiter_timezone"] == "Australia/Sydney"
    assert pd.isna(valid.loc["OK", "recruiter_timezone"])
    assert valid.loc["CC-OK", "country"] == "GB" and valid.loc["LOC-OK", "locale"] == "en-GB"
    assert valid.loc["CRLF", "notes"] == "line one\nline two"
    assert valid.loc["TEXT-OK", "notes"] == "Prefers calls.\nAfter 5 pm:\tweekdays"
    assert valid.loc["DATE-ISO", "offer_deadline"] == pd.Timestamp("2026-11-27T17:00:00Z")
    assert valid.loc["DATE-TIME", "meeting_at"] == pd.Timestamp("2026-11-20T14:30:00Z")
    assert valid.loc["DATE-TIME", "start_date"] == pd.Timestamp("2027-01-04T00:00:00Z")
    assert valid.loc["OK", "source_line"] == 2


def test_national_numbers_read_as_libphonenumber_reads_them(checked):
    phones = checked.valid.set_index("candidate_id")["phone"]
    wrong = [(r, n, phones.get(f"PH-{r}"), e) for r, n, e in EXAMPLE_PHONES if e and phones.get(f"PH-{r}") != e]
    assert len(EXAMPLE_PHONES) > 200 and not wrong


def test_data_docs_are_built_for_the_batch(checked, docs_dir):
    assert checked.data_docs == docs_dir / "b-test" / "index.html"
    assert checked.data_docs.is_file()
    pages = list((docs_dir / "b-test" / "validations" / SUITE_NAME).rglob("*.html"))
    page = pages[0].read_text(encoding="utf-8")
    assert "candidate_id is unique within the batch" in page and "hired" in page


def test_the_suite_run_in_a_worker_process_gives_the_same_verdict_and_docs(raw, checked, docs_dir):
    """`followup run` validates in a worker forked from a server that imported Great Expectations
    (followup.stages.workers): the same rows pass, the same reasons quarantine, the docs are built."""
    from followup.stages import workers

    elsewhere = validate_batch(raw, batch_id="b-worker", docs_dir=docs_dir, suite=workers.run_suite)
    pd.testing.assert_frame_equal(elsewhere.valid, checked.valid)
    pd.testing.assert_frame_equal(elsewhere.quarantine, checked.quarantine)
    assert elsewhere.data_docs == docs_dir / "b-worker" / "index.html" and elsewhere.data_docs.is_file()


def test_a_batch_id_that_cannot_name_a_folder_fails_the_same_in_a_worker(raw):
    from followup.stages import workers

    with pytest.raises(ValueError, match="cannot name a folder"):
        workers.run_suite(validation.prepare(raw, None, None, 1000).checks, "../escape", Path("docs"))


def test_naive_dates_are_local_time_and_defaults_apply():
    rows = [
        person("NY", timezone="America/New_York", decided_at="2026-11-20 14:30", meeting_at="11/20/2026 2:30 PM"),
        person("BERLIN", decided_at="2026-07-01 09:00", phone="020 7946 0321"),  # company defaults
        person("OFFSET", timezone="Asia/Tokyo", decided_at="2026-11-20T14:30:00+01:00"),
        person("FALLBACK", timezone="America/New_York", decided_at="2026-11-01 01:30"),  # happens twice
        person("SPRING", timezone="America/New_York", decided_at="2026-03-08 02:30"),  # never happens
    ]
    checked = validate_batch(
        raw_batch(rows), batch_id="defaults", docs_dir=None, default_country="gb", default_timezone="Europe/Berlin"
    )
    assert checked.quarantine.empty and checked.data_docs is None
    valid = checked.valid.set_index("candidate_id")
    assert valid.loc["NY", "decided_at"] == pd.Timestamp("2026-11-20T19:30:00Z")
    assert valid.loc["NY", "meeting_at"] == pd.Timestamp("2026-11-20T19:30:00Z")
    assert valid.loc["BERLIN", "decided_at"] == pd.Timestamp("2026-07-01T07:00:00Z")
    assert valid.loc["BERLIN", "phone"] == "+442079460321"
    assert valid.loc["OFFSET", "decided_at"] == pd.Timestamp("2026-11-20T13:30:00Z")
    assert valid.loc["FALLBACK", "decided_at"] == pd.Timestamp("2026-11-01T05:30:00Z")  # the first 1:30, EDT
    assert valid.loc["SPRING", "decided_at"] == pd.Timestamp("2026-03-08T07:00:00Z")  # moved to 3:00 EDT


def test_unknown_defaults_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        validate_batch(raw_batch([person("A")]), batch_id="x", docs_dir=None, default_timezone="Mars/Base")
    with pytest.raises(ValueError, match="country"):
        validate_batch(raw_batch([person("A")]), batch_id="x", docs_dir=None, default_country="UK")


def _validated(bad: int, rows: int) -> Validated:
    return Validated(valid=pd.DataFrame(), quarantine=pd.DataFrame({"line": range(bad)}), rows=rows, data_docs=None)


def test_gate_lets_a_batch_at_the_threshold_through_and_refuses_one_above():
    assert gate_reason(_validated(20, 100), 0.20) is None
    assert gate_reason(_validated(0, 0), 0.0) is None
    message = gate_reason(_validated(21, 100), 0.20)
    assert message is not None and "21 of 100 records (21.0%)" in message and "20% allowed" in message
    assert "2.5% allowed" in gate_reason(_validated(3, 100), 0.025)


def test_a_refusal_names_the_most_common_problem():
    reasons = ["email: is not a valid address", "email: is not a valid address", "decision: must be offer or reject"]
    quarantine = pd.DataFrame({"line": range(3), "reason": reasons})
    message = gate_reason(Validated(valid=pd.DataFrame(), quarantine=quarantine, rows=4, data_docs=None), 0.2)
    assert "The most common problem (2 of them): email: is not a valid address." in message


def test_write_quarantine_keeps_the_files_headers_and_defuses_formulas(raw, checked, tmp_path):
    path = write_quarantine(checked, tmp_path / "q" / "b-test.csv")
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(back.columns[:4]) == ["line", "candidate_id", "columns", "reason"]
    assert {"Email Address", "First Name", "Decision Date", "notes", "raw_record"} <= set(back.columns)
    inject = back.loc[back["candidate_id"] == "INJECT"].iloc[0]
    assert inject["notes"] == "'=cmd|' /C calc'!A0"
    assert (inject["location"], inject["company"], inject["hiring_manager"]) == ("'+1", "'-2", "'@x")
    assert inject["Referral Source"] == "'@mention"  # an extra column travels with the record
    assert "\x07" in text  # the bad cell is kept as it was, for the recruiter to find and fix
    clean = validate_batch(raw_batch([person("OK")]), batch_id="clean", docs_dir=None)
    assert write_quarantine(clean, tmp_path / "none.csv") is None
    assert not (tmp_path / "none.csv").exists()


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1", "-2", "@x", "\tx", "\rx"])
def test_neutralise_prefixes_formula_starts(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Ann", "1-2", "", None, -5, 3.5])
def test_neutralise_leaves_everything_else(value):
    assert neutralise(value) == value


def test_write_csv_leaves_numbers_as_numbers(tmp_path):
    """-5 in a numeric column is a number to a spreadsheet, never a formula: no apostrophe, so it
    still sums. The same text in a text column is prefixed like any other formula start."""
    frame = pd.DataFrame({"amount": [-5.0, 2.5], "count": [-5, 1], "note": pd.array(["-5", "Zoë 花子"], dtype="str")})
    lines = write_csv(frame, tmp_path / "n.csv").read_text(encoding="utf-8").splitlines()
    assert lines == ["amount,count,note", "-5.0,-5,'-5", "2.5,1,Zoë 花子"]


def test_write_csv_defuses_headers_and_object_columns(tmp_path):
    frame = pd.DataFrame({"=HYPERLINK()": pd.Series(["@SUM(A1)", 7, None], dtype=object)})
    lines = write_csv(frame, tmp_path / "o.csv").read_text(encoding="utf-8").splitlines()
    assert lines == ["'=HYPERLINK()", "'@SUM(A1)", "7", '""']


class _Exploding:
    def __str__(self) -> str:
        raise RuntimeError("disk gone")


def test_write_csv_is_atomic(tmp_path):
    path = tmp_path / "deep" / "er" / "out.csv"
    write_csv(pd.DataFrame({"a": ["old"]}), path)
    with pytest.raises(RuntimeError):
        write_csv(pd.DataFrame({"a": pd.Series(["new", _Exploding()], dtype=object)}), path)
    assert path.read_text(encoding="utf-8") == "a\nold\n"
    assert os.listdir(path.parent) == ["out.csv"]
    write_csv(pd.DataFrame({"a": ["new"]}), path)
    assert path.read_text(encoding="utf-8") == "a\nnew\n" and os.listdir(path.parent) == ["out.csv"]


def test_reasons_quote_values_readably(checked):
    """Control characters in a quoted value show as a marker; nothing spills over lines."""
    reasons = checked.quarantine["reason"].dropna()
    assert not reasons.str.contains(r"[\x00-\x1f]").any()
    assert all(re.fullmatch(r"[a-z_]+(;[a-z_]+)*", c) for c in checked.quarantine["columns"].dropna() if c)


def _quarantined(tmp_path: Path, rows: list[list[str]]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Import `rows` as a CSV file, validate it, write the quarantine: its header and its rows by line."""
    source = tmp_path / "ats-export.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    checked = validate_batch(read_batch(source), batch_id="b-orig", docs_dir=None)
    path = write_quarantine(checked, tmp_path / "q" / "b-orig.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        header, *body = list(csv.reader(handle))
    return header, {line[0]: dict(zip(header, line)) for line in body}


def test_the_quarantine_shows_the_cells_as_the_file_had_them_under_its_headers_in_its_order(tmp_path):
    # An ATS export: its own header names, Notes before Currency, an extra column, cells the reader cleans.
    headers = ["Email Address", "Last Name", "First Name", "Candidate ID", "Notes", "Currency", "Referral Source",
               "Job Title", "Hiring Decision"]  # fmt: skip
    rows = [
        headers,
        ["José.Pérez@Example.COM", "Pérez", "José", "C1", "", "EUR", "  LinkedIn ", "Dev", "offer"],
        ["bo@Example.COM", "Li", "  Bo ", "C2", "call after 5pm", "  B1 ", "web", "Dev", "offer"],
        ["cy@example.com", "Ma", "Cy", "C3", '=HYPERLINK("http://evil.example","click")', "EUR", "", "Dev", "hired"],
        ["ok@Example.COM", "Ok", " Ok", "C4", "", "EUR", "", "Dev", "offer"],  # cleaned, but valid
    ]
    header, by_line = _quarantined(tmp_path, rows)

    assert header == ["line", "candidate_id", "columns", "reason", *headers]  # the file's names, in its order
    assert set(by_line) == {"2", "3", "4"}
    email = by_line["2"]
    assert email["columns"] == "email"
    assert email["Email Address"] == "José.Pérez@Example.COM"  # the domain as written, not lower-cased
    assert "Email Address 'José.Pérez@Example.COM' is not a valid address" in email["reason"]
    assert email["Referral Source"] == "  LinkedIn "  # an extra column, with its spaces
    currency = by_line["3"]
    assert currency["columns"] == "currency"
    assert (currency["Currency"], currency["First Name"]) == ("  B1 ", "  Bo ")  # untrimmed
    assert currency["Email Address"] == "bo@Example.COM"  # a cell that did not fail is original too
    assert [currency[h] for h in headers] == rows[2]  # every cell, in the file's order
    formula = by_line["4"]
    assert formula["columns"] == "decision"
    assert formula["Notes"] == "'" + rows[3][4]  # still defused for the spreadsheet


def test_the_candidate_id_column_carries_the_files_cell_when_the_file_calls_it_candidate_id(tmp_path):
    rows = [
        ["decision", "candidate_id", "email", "first_name", "last_name", "role"],
        ["offer", "C1", "a@example.com", "Ann", "Lee", "Dev"],
        ["offer", " C1 ", "b@Example.com", "Bo", "Li", "Dev"],
    ]
    header, by_line = _quarantined(tmp_path, rows)

    assert header == ["line", "candidate_id", "columns", "reason", "decision", "email", "first_name", "last_name",
                      "role"]  # fmt: skip
    assert by_line["3"]["candidate_id"] == " C1 " and by_line["2"]["candidate_id"] == "C1"
    assert by_line["3"]["email"] == "b@Example.com"
    assert "candidate_id ' C1 ' appears more than once (also on line 2)" in by_line["3"]["reason"]
