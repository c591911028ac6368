"""Properties: whatever the cells hold, import and validation never crash, and every record comes out
valid or quarantined with a reason; a valid batch is imported whole, whatever its encoding and
delimiter (the reader's own properties are in test_importing.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.importing import ImportRefused, read_batch
from followup.validation import validate_batch

COLUMNS = [
    "candidate_id", "email", "first_name", "last_name", "role", "decision", "channel", "phone", "timezone",
    "country", "locale", "decided_at", "offer_deadline", "start_date", "meeting_at", "salary_min", "salary_max",
    "currency", "notes",
]  # fmt: skip

# Cells near the rules' edges, mixed with arbitrary text: dates out of range, offsets, odd numbers,
# formulas, control characters, zones and codes that almost exist.
edgy = st.sampled_from([
    "", " ", "offer", "reject", "email", "voicemail", "in_person", "ann@example.com", "a@b", "+1 212 555 0100",
    "020 7946 0000", "Europe/Berlin", "Mars/Olympus", "US", "XX", "en_GB", "zz", "USD", "EUR", "ABC", "-5",
    "1e309", "NaN", "60000", "0", "9999-12-31", "0000-01-01", "1899-12-31", "2026-11-20", "2026-02-30",
    "2026-11-20T25:00:00Z", "2026-11-20 14:30+14:00", "2026-11-20 14:30-23:59", "11/20/2026 2:30 PM",
    "=HYPERLINK(\"x\")", "@SUM(A1)", "\t", "a\x01b", "x" * 5000,
])  # fmt: skip
cell = st.one_of(edgy, st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=16))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS)), min_size=1, max_size=6))
def test_any_cells_come_out_valid_or_quarantined_with_a_reason(tmp_path: Path, rows):
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([COLUMNS, *rows])
    path = tmp_path / "cells.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        raw = read_batch(path)
    except ImportRefused as error:
        # The header is ours, so the only fair refusal is an export of blank rows: "empty".
        assert error.problem == "empty" and str(error)
        assert all(not value.strip() for row in rows for value in row)
        return
    checked = validate_batch(raw, batch_id="prop", docs_dir=None)
    assert len(checked.valid) + len(checked.quarantine) == checked.rows == len(raw.frame) + len(raw.malformed)
    assert checked.quarantine["reason"].str.len().gt(0).all()
    assert set(checked.valid["source_line"]).isdisjoint(checked.quarantine["line"])


# Candidates as an ATS exports them: accents, apostrophes, the delimiters themselves and quotes in
# the text, line breaks and tabs in the notes. Every character exists in cp1252, and none of its
# accented letters is a UTF-8 continuation byte there, so a cp1252 file is never read as UTF-8.
letters = st.text(st.sampled_from(list("abcdefghijklmnopqrstuvwxyzÁÉÍÓÚáéíóúñçäöüßøåæ")), min_size=1, max_size=10)
prose = st.text(st.sampled_from(list("abc XYZ é,;|\"'.-")), max_size=20)
candidate = st.fixed_dictionaries({
    "first_name": letters.map(str.capitalize),
    "last_name": st.tuples(st.sampled_from(["", "O'", "de la "]), letters).map("".join),
    "role": prose.map(lambda text: f"Engineer {text}"),
    "decision": st.sampled_from(["offer", "reject", "OFFER", " reject "]),
    "channel": st.sampled_from(["", "email", "Email"]),
    "notes": st.lists(prose, max_size=3).map("\n\t".join),
})  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=st.lists(candidate, min_size=1, max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\r\n", "\n"]),
)
def test_a_valid_batch_is_imported_whole_in_any_encoding_and_delimiter(tmp_path: Path, people, encoding, delimiter,
                                                                        newline):  # fmt: skip
    header = ["Candidate ID", "Email Address", "First Name", "Last Name", "Job Title", "Decision", "Channel", "Notes"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    for n, person in enumerate(people):
        writer.writerow([f"C-{n}", f"candidate.{n}@example.com", person["first_name"], person["last_name"],
                         person["role"], person["decision"], person["channel"], person["notes"]])  # fmt: skip
    path = tmp_path / "valid.csv"
    path.write_bytes(buffer.getvalue().encode(encoding))

    raw = read_batch(path)
    assert (raw.delimiter, len(raw.frame), len(raw.malformed)) == (delimiter, len(people), 0)
    checked = validate_batch(raw, batch_id="prop", docs_dir=None)
    assert checked.quarantine.empty, checked.quarantine["reason"].tolist()
    assert len(checked.valid) == checked.rows == len(people)
    assert checked.valid["first_name"].tolist() == [person["first_name"] for person in people]
