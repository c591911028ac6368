"""The recruiter's call sheets when several sender processes (workers sharing one data dir) write
the same day's sheet at once: one header, every row whole, none lost."""

from __future__ import annotations

import csv
import subprocess
import sys
import time

from followup.transports.callsheet import COLUMNS

DAYS = 40  # each a new sheet: a new chance for two writers to find it missing at once
WRITERS = 4

# One writer: imports first, then waits for the common start so that all write together.
_WRITER = """
import sys, time
from followup.transports.base import Envelope
from followup.transports.callsheet import CallSheetTransport

directory, writer, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
sheets = CallSheetTransport(directory)
time.sleep(max(0.0, start - time.time()))
for day in range(1, {days} + 1):
    key = f"{{writer}}-{{day}}"
    row = {{"name": "Ana Lima", "phone": "+4915112345678", "script": "Hi Ana, good news",
           "local_time_to_call": f"2027-01-{{day:02d}} 10:30 CET"}}
    envelope = Envelope(message_key=key, to_email="ana@example.org", to_name="Ana Lima",
                        from_email="jobs@acme.example", from_name=None, reply_to=None, subject="",
                        text="", html=None, channel="voicemail", call_sheet=row,
                        custom_args={{"message_key": key, "candidate_id": "C-" + writer, "kind": "offer",
                                     "step": "0"}})
    assert sheets.send(envelope).status == "sent"
""".format(days=DAYS)


def test_writers_in_several_processes_share_a_sheet_with_one_header_and_every_row(tmp_path):
    directory = tmp_path / "call_sheets"
    start = time.time() + 3  # after every writer has imported followup
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(directory), str(n), str(start)])
               for n in range(WRITERS)]  # fmt: skip
    assert [writer.wait(timeout=60) for writer in writers] == [0] * WRITERS

    sheets = sorted(directory.glob("*.csv"))
    assert len(sheets) == DAYS
    keys = []
    for sheet in sheets:
        with sheet.open(encoding="utf-8", newline="") as handle:
            header, *rows = list(csv.reader(handle))
        assert tuple(header) == COLUMNS
        assert all(len(row) == len(COLUMNS) for row in rows), sheet.name
        assert [row for row in rows if tuple(row) == COLUMNS] == [], f"a second header on {sheet.name}"
        keys += [row[COLUMNS.index("message_key")] for row in rows]
    assert sorted(keys) == sorted(f"{n}-{day}" for n in range(WRITERS) for day in range(1, DAYS + 1))
