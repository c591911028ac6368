"""The recruiter's call sheet: where a voicemail message is delivered (DESIGN.md, the ledger;
followup.channels declares which channels go here).

A voicemail counts as sent once its row is on the sheet for the day it should be called: one
UTF-8 CSV per local calling day under the data dir, appended to as messages are sent, every
cell neutralised against spreadsheet formulas. What happened on the call comes back later
through `followup outcomes import`.
"""

from __future__ import annotations

import csv
import fcntl
import os
import threading
from pathlib import Path

from followup.csvfiles import neutralise
from followup.transports.base import Envelope, SendOutcome

COLUMNS = ("local_time_to_call", "name", "phone", "script", "candidate_id", "kind", "step", "message_key")


class CallSheetTransport:
    name = "call_sheet"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def sheet_for(self, envelope: Envelope) -> Path:
        """The sheet of the candidate's local calling day ("2026-11-27 10:30 CET" -> 2026-11-27.csv)."""
        day = (envelope.call_sheet or {}).get("local_time_to_call", "")[:10] or "undated"
        return self.directory / f"{day}.csv"

    def send(self, envelope: Envelope) -> SendOutcome:
        if not envelope.call_sheet:
            return SendOutcome.failed("a voicemail message needs its call-sheet row, and it has none")
        path = self.sheet_for(envelope)
        row = {**envelope.call_sheet, **{k: envelope.custom_args.get(k, "") for k in COLUMNS[4:]}}
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only, as every file of personal data we write: names, phone numbers, scripts.
            handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with open(handle, "a", encoding="utf-8", newline="") as sheet:
                # Senders in other processes (several workers on one data dir) append to the same
                # sheet: under the lock only one finds it empty and writes the header, and rows
                # never interleave. The kernel drops the lock with the process, killed or not.
                fcntl.flock(handle, fcntl.LOCK_EX)
                writer = csv.writer(sheet)
                if os.fstat(handle).st_size == 0:
                    writer.writerow(COLUMNS)
                writer.writerow([neutralise(str(row.get(column, ""))) for column in COLUMNS])
                # Closing hands the row to the OS before the ledger says sent, so a killed
                # process cannot lose it; no fsync per row (a power cut is not our crash model).
        return SendOutcome.sent(f"call-sheet:{path.name}")

    def find(self, keys: set[str]) -> dict[str, str]:
        """Which of these message keys have a row on a sheet: key -> the provider id a send gave."""
        found: dict[str, str] = {}
        for path in sorted(self.directory.glob("*.csv")) if keys else ():
            with path.open(encoding="utf-8", newline="") as sheet:
                for row in csv.DictReader(sheet):
                    if row.get("message_key") in keys:
                        found[row["message_key"]] = f"call-sheet:{path.name}"
        return found

    def close(self) -> None:
        """Each row is written and synced as it is sent; nothing is held open."""
