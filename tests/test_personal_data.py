"""Personal data at rest: the files that hold candidates' data are their owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from followup import importing, validation
from followup.models import Batch
from followup.store import close_ledger, open_ledger
from followup.transports.base import Envelope
from followup.transports.callsheet import CallSheetTransport
from followup.validation.quarantine import write_quarantine


@pytest.fixture(autouse=True)
def usual_umask():
    """The usual umask (022) leaves new files readable by everyone: owner-only must come from the code."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_ledger_and_its_wal_and_shm_files_are_owner_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    engine = open_ledger(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        with engine.connect() as conn:  # the -wal and -shm files live while a connection is open
            assert conn.execute(sa.select(Batch.id)).scalars().all() == ["b1"]
            files = [tmp_path / "data" / f"followup.db{suffix}" for suffix in ("", "-wal", "-shm")]
            assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        close_ledger(url)


def test_a_call_sheet_is_owner_only(tmp_path):
    row = {"name": "Ana Lima", "phone": "+4915112345678", "local_time_to_call": "2026-11-27 10:30 CET", "script": "Hi Ana"}
    envelope = Envelope(
        message_key="a" * 64, to_email="ana@example.org", to_name="Ana Lima", from_email="jobs@acme.example",
        from_name=None, reply_to=None, subject="", text="", html=None, channel="voicemail", call_sheet=row,
        custom_args={"message_key": "a" * 64, "candidate_id": "C-1", "kind": "offer", "step": "0"},
    )  # fmt: skip
    sheets = CallSheetTransport(tmp_path / "call_sheets")
    assert sheets.send(envelope).status == "sent" and sheets.send(envelope).status == "sent"
    assert mode(tmp_path / "call_sheets" / "2026-11-27.csv") == 0o600


def test_quarantine_files_and_the_data_docs_are_owner_only(tmp_path):
    batch = tmp_path / "round.csv"
    batch.write_text(
        "candidate_id,email,first_name,last_name,role,decision\n"
        "C-1,ana@example.com,Ana,Lima,Analyst,offer\n"
        "C-2,not-an-address,Bo,Chen,Analyst,reject\n",
        encoding="utf-8",
    )
    checked = validation.validate_batch(importing.read_batch(batch), batch_id="b1", docs_dir=tmp_path / "docs")
    quarantine = write_quarantine(checked, tmp_path / "quarantine" / "b1.csv")
    assert quarantine is not None and mode(quarantine) == 0o600
    assert checked.data_docs is not None and checked.data_docs.is_file()
    assert mode(tmp_path / "docs") == 0o700  # the docs show the failing values
