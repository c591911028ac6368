"""Property: whatever the cells hold, import and validation never crash; every record comes out
valid or quarantined with a reason (the reader's own properties are in test_importing.py)."""

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
        assert str(error)  # a clear refusal (an export of blank rows only is "empty")
        return
    checked = validate_batch(raw, batch_id="prop", docs_dir=None)
    assert len(checked.valid) + len(checked.quarantine) == checked.rows == len(raw.frame) + len(raw.malformed)
    assert checked.quarantine["reason"].str.len().gt(0).all()
    assert set(checked.valid["source_line"]).isdisjoint(checked.quarantine["line"])
