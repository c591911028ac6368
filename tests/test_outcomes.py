"""`followup outcomes import`: what no webhook brings, recorded once, bad rows quarantined with reasons,
on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from typer.testing import CliRunner

from followup.cli import app
from followup.models import RESPONSES, Batch, Candidate, Message, Outcome, Response
from followup.stages.outcomes import outcome_key
from followup.store import _alembic_config, open_ledger
from followup.store.dialect import aware

runner = CliRunner()
FIRST_SENT = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
NOW = "2026-11-26T09:00:00Z"
# Headers as a recruiter's sheet has them: matched case- and space-insensitively.
HEADER = [" Candidate ID ", "OUTCOME", "At", "Notes", "Channel", "Message Key"]


def seed(url: str) -> None:
    """C-1 (voicemail) was called on the 20th; C-2 (email) written to on the 20th and nudged on the 23rd;
    C-3 has a message planned but never sent; C-4 was invited to a meeting on the 21st."""
    candidates = [("C-1", "voicemail"), ("C-2", "email"), ("C-3", "email"), ("C-4", "in_person")]
    messages = [("m-c1", "C-1", "voicemail", "sent", FIRST_SENT), ("m-c2-1", "C-2", "email", "sent", FIRST_SENT),
                ("m-c2-2", "C-2", "email", "sent", FIRST_SENT + timedelta(days=3)),
                ("m-c3", "C-3", "email", "planned", None),
                ("m-c4", "C-4", "in_person", "sent", FIRST_SENT + timedelta(days=1))]  # fmt: skip
    with open_ledger(url).begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="round.csv", file_sha256="0" * 64, status="imported"))
        conn.execute(sa.insert(Candidate), [
            {"candidate_id": cid, "email": f"{cid.lower()}@example.com", "first_name": "Ann", "last_name": "Lee",
             "channel": channel, "first_batch_id": "b1", "last_batch_id": "b1"} for cid, channel in candidates
        ])  # fmt: skip
        conn.execute(sa.insert(Message), [
            {"message_key": key, "campaign": "autumn", "candidate_id": cid, "kind": "offer", "step": 0,
             "channel": channel, "status": status, "sent_at": sent_at} for key, cid, channel, status, sent_at in messages
        ])  # fmt: skip


def write(path: Path, rows, header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def invoke(tmp_path: Path, ledger_url: str | None, *args: str, **env: str):
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), **env}
    if ledger_url:
        env["FOLLOWUP_DATABASE_URL"] = ledger_url
    return runner.invoke(app, ["outcomes", "import", *args], env=env, catch_exceptions=False)


def responses(url: str) -> list[dict]:
    with open_ledger(url).connect() as conn:
        rows = conn.execute(sa.select(Response.__table__).order_by(Response.id)).mappings().all()
    return [{**row, "received_at": aware(row["received_at"])} for row in rows]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


GOOD = [
    ["C-1", "No answer", "2026-11-21 10:00", "Rang twice, no voicemail box", "", ""],
    ["C-2", "replied", "2026-11-22T10:00:00Z", "Wants to talk salary\nafter Monday", "", ""],
    ["C-2", "accepted", "2026-11-24T08:00:00+01:00", "", "", ""],
    ["C-4", "attended", "2026-11-25 15:00", "Met the team", "in_person", "m-c4"],
    ["C-1", "Called-Back", "11/25/2026 2:30 PM", "", "VOICEMAIL", ""],
]


def test_a_good_file_is_recorded_once_and_importing_it_again_records_nothing(tmp_path, ledger_url):
    seed(ledger_url)
    calls = write(tmp_path / "calls.csv", GOOD)
    # Times without an offset are the company's wall time: 10:00 in Berlin is 09:00 UTC in November.
    result = invoke(tmp_path, ledger_url, str(calls), "--now", NOW, "--json", FOLLOWUP_TIMEZONE="Europe/Berlin")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout holds only the JSON document
    assert list(summary)[:7] == ["file", "status", "rows", "recorded", "duplicates", "quarantined", "quarantine_file"]
    assert {k: summary[k] for k in ("status", "rows", "recorded", "duplicates", "quarantined", "quarantine_file")} == {
        "status": "recorded", "rows": 5, "recorded": 5, "duplicates": 0, "quarantined": 0, "quarantine_file": None}  # fmt: skip
    stored = [(r["candidate_id"], r["outcome"], r["received_at"], r["channel"], r["message_key"], r["note"])
              for r in responses(ledger_url)]  # fmt: skip
    assert stored == [
        # The channel defaults to the candidate's, the message to their latest one on it sent by then.
        ("C-1", "no_answer", utc(2026, 11, 21, 9), "voicemail", "m-c1", "Rang twice, no voicemail box"),
        ("C-2", "replied", utc(2026, 11, 22, 10), "email", "m-c2-1", "Wants to talk salary\nafter Monday"),
        ("C-2", "accepted", utc(2026, 11, 24, 7), "email", "m-c2-2", None),
        ("C-4", "attended", utc(2026, 11, 25, 14), "in_person", "m-c4", "Met the team"),
        ("C-1", "called_back", utc(2026, 11, 25, 13, 30), "voicemail", "m-c1", None),
    ]
    assert {r["source"] for r in responses(ledger_url)} == {"outcomes:calls.csv"}

    again = invoke(tmp_path, ledger_url, str(calls), "--now", NOW, "--json", FOLLOWUP_TIMEZONE="Europe/Berlin")
    assert (again.exit_code, json.loads(again.stdout)["recorded"], json.loads(again.stdout)["duplicates"]) == (0, 0, 5)
    # A corrected note is the same outcome: nothing new, and the note first recorded stays.
    corrected = write(tmp_path / "calls-fixed.csv", [["C-1", "no_answer", "2026-11-21 10:00", "Rang three times", "", ""]])
    fixed = invoke(tmp_path, ledger_url, str(corrected), "--now", NOW, FOLLOWUP_TIMEZONE="Europe/Berlin")
    assert fixed.exit_code == 0 and "already recorded" in fixed.stdout
    assert len(responses(ledger_url)) == 5 and responses(ledger_url)[0]["note"] == "Rang twice, no voicemail box"


QUARANTINED = {  # line in the file -> (row, what the reason says)
    3: (["C-9", "replied", "2026-11-21 10:00", "", "", ""], "'C-9' is not a candidate in the ledger"),
    4: (["C-3", "replied", "2026-11-21 10:00", "", "", ""], "'C-3' has not been sent any message yet"),
    5: (["C-1", "maybe", "2026-11-21 10:00", "", "", ""], "'maybe' is not an outcome: use accepted, declined"),
    6: (["C-1", "accepted", "2026-11-26 09:01", "", "", ""], "is in the future (it is 2026-11-26 09:00 UTC now)"),
    7: (["C-1", "accepted", "2026-11-19 10:00", "", "", ""],
        "is before the first message to the candidate, sent 2026-11-20 09:00 UTC"),
    8: (["C-1", "accepted", "next tuesday", "", "", ""], "At 'next tuesday' is not a date and time"),
    9: (["C-1", "accepted", "2026-11-21 10:00", "", "sms", ""], "Channel 'sms' must be email, voicemail or in_person"),
    10: (["C-1", "accepted", "2026-11-21 10:00", "", "", "m-c2-1"], "'m-c2-1' is not a message sent to C-1"),
    11: (["C-1", "accepted", "2026-11-21 10:00", "", "", "no-such-key"], "'no-such-key' is not a message sent to C-1"),
    12: (["C-2", "replied", "2026-11-22 10:00", "", "voicemail", "m-c2-1"],
         "Channel 'voicemail' is not the channel of that message (email)"),
    13: (["C-2", "replied", "2026-11-22 10:00", "", "", "m-c2-2"], "is before that message was sent (2026-11-23 09:00 UTC)"),
    14: (["", "replied", "2026-11-22 10:00", "", "", ""], "Candidate ID is required but empty"),
    15: (["C-1", "", "", "", "", ""], "OUTCOME is required but empty; At is required but empty"),
    16: (["C-1", "accepted", "2026-11-21 10:00", '=HYPERLINK("http://evil.example")\x07', "", ""],
         "Notes contains the control character U+0007"),
}  # fmt: skip


def test_every_bad_row_is_quarantined_with_its_reason_and_the_good_one_recorded(tmp_path, ledger_url):
    seed(ledger_url)
    rows = [["C-1", "no_answer", "2026-11-21 10:00", "", "", ""], *(row for row, _ in QUARANTINED.values())]
    calls = write(tmp_path / "call sheet.csv", rows)
    result = invoke(tmp_path, ledger_url, str(calls), "--now", NOW, "--json", FOLLOWUP_MAX_BAD_SHARE="1")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["recorded"], summary["quarantined"]) == (1, len(QUARANTINED))
    quarantine = Path(summary["quarantine_file"])
    assert quarantine.parent == tmp_path / "data" / "quarantine" and quarantine.name.startswith("outcomes-call_sheet-")
    with quarantine.open(encoding="utf-8", newline="") as handle:
        listed = {int(row["line"]): row for row in csv.DictReader(handle)}
    assert set(listed) == set(QUARANTINED)
    for line, (row, reason) in QUARANTINED.items():
        assert reason in listed[line]["reason"], (line, listed[line]["reason"])
        assert listed[line]["candidate_id"] == row[0] and listed[line]["OUTCOME"] == row[1]  # the file's own cells
    # A cell a spreadsheet would run is written as text.
    assert listed[16]["Notes"].startswith("'=HYPERLINK(")
    assert [r["candidate_id"] for r in responses(ledger_url)] == ["C-1"]


def test_a_file_too_bad_to_record_is_refused_whole(tmp_path, ledger_url):
    seed(ledger_url)
    calls = write(tmp_path / "calls.csv", [GOOD[0], ["C-9", "replied", "2026-11-21 10:00", "", "", ""]])
    result = invoke(tmp_path, ledger_url, str(calls), "--now", NOW, "--json")
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["recorded"], summary["quarantined"]) == ("refused", 0, 1)
    assert "more than the 20% allowed" in summary["reason"] and Path(summary["quarantine_file"]).is_file()
    assert "Refused:" in result.stderr and responses(ledger_url) == []


def test_a_file_without_the_required_columns_is_refused_naming_them(tmp_path):
    calls = write(tmp_path / "calls.csv", [["C-1", "replied"]], header=["Candidate ID", "Result"])
    result = invoke(tmp_path, None, str(calls))
    assert result.exit_code == 2
    assert "missing required columns: at, note" in result.stderr and "--mapping" not in result.stderr
    assert result.stdout == ""


def test_an_xlsx_sheet_records_like_a_csv(tmp_path, ledger_url):
    seed(ledger_url)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Candidate ID", "Outcome", "At", "Note"])
    sheet.append(["C-1", "wrong_number", datetime(2026, 11, 21, 10, 0), "Number is a fax"])  # a date cell
    sheet.append(["C-2", "out_of_office", "2026-11-24 08:00", None])
    workbook.save(tmp_path / "calls.xlsx")
    result = invoke(tmp_path, ledger_url, str(tmp_path / "calls.xlsx"), "--now", NOW, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["recorded"] == 2
    assert [(r["outcome"], r["received_at"], r["message_key"]) for r in responses(ledger_url)] == [
        ("wrong_number", utc(2026, 11, 21, 10), "m-c1"),
        ("out_of_office", utc(2026, 11, 24, 8), "m-c2-2"),
    ]


def test_the_business_clock_decides_what_is_in_the_future(tmp_path, ledger_url):
    seed(ledger_url)
    calls = write(tmp_path / "calls.csv", [["C-1", "called_back", "2026-11-25T12:00:00Z", "", "", ""]])
    early = invoke(tmp_path, ledger_url, str(calls), "--now", "2026-11-25T11:59:00Z", "--json",
                   FOLLOWUP_MAX_BAD_SHARE="1")  # fmt: skip
    summary = json.loads(early.stdout)
    assert (summary["recorded"], summary["quarantined"]) == (0, 1)
    later = invoke(tmp_path, ledger_url, str(calls), "--now", "2026-11-25T12:00:00Z", "--json")
    assert (json.loads(later.stdout)["recorded"], json.loads(later.stdout)["quarantine_file"]) == (1, None)
    assert not Path(summary["quarantine_file"]).exists()  # the earlier list of this file no longer holds


def test_the_vocabulary_is_the_designs_and_its_responses_are_the_answers():
    assert [o.value for o in Outcome] == [
        "accepted", "declined", "replied", "question", "opt_out", "called_back", "no_answer", "wrong_number",
        "attended", "no_show", "out_of_office", "auto_reply",
    ]  # fmt: skip
    assert {o.value for o in RESPONSES} == {"accepted", "declined", "replied", "question", "opt_out", "called_back",
                                            "attended"}  # fmt: skip


def test_the_dedupe_key_is_the_instant_not_its_spelling():
    at = utc(2026, 11, 21, 9)
    key = outcome_key("C-1", "no_answer", at, "voicemail", "m-c1")
    berlin = at.astimezone(timezone(timedelta(hours=1)))
    assert outcome_key("C-1", "no_answer", berlin, "voicemail", "m-c1") == key
    assert outcome_key("C-1", "no_answer", at + timedelta(microseconds=1), "voicemail", "m-c1") != key
    assert outcome_key("C-1", "no_answer", at, "voicemail", None) != key
    assert len(key) == 64


def test_the_migration_keeps_responses_stored_before_it(ledger_url):
    from alembic import command

    engine = open_ledger(ledger_url)
    seed(ledger_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0003")
    before = sa.table("responses", sa.column("candidate_id"), sa.column("channel"), sa.column("outcome"),
                      sa.column("received_at", sa.DateTime(timezone=True)))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(before.insert().values(candidate_id="C-2", channel="email", outcome="replied", received_at=FIRST_SENT))
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    [row] = responses(ledger_url)
    assert (row["outcome"], row["source"], row["note"], row["dedupe_key"]) == ("replied", None, None, None)


def test_outcomes_import_in_a_fresh_process_prints_only_json(tmp_path, ledger_url):
    """No Prefect start-up, nothing but the document on stdout: a schedule can read it."""
    seed(ledger_url)
    calls = write(tmp_path / "calls.csv", GOOD[:2])
    env = {**os.environ, "FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_DATABASE_URL": ledger_url}
    done = subprocess.run(
        [sys.executable, "-m", "followup.cli", "outcomes", "import", str(calls), "--now", NOW, "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["recorded"] == 2
    assert done.stderr == ""


def test_a_file_naming_no_one_ever_written_to_is_all_quarantined(tmp_path):
    from followup.importing import OUTCOME_COLUMNS, read_batch
    from followup.validation.outcomes import validate_outcomes

    calls = write(tmp_path / "calls.csv", [["C-3", "replied", "2026-11-21 10:00", "", "", ""],
                                           ["C-9", "replied", "2026-11-21 10:00", "", "", "m-c1"]])  # fmt: skip
    raw = read_batch(calls, columns=OUTCOME_COLUMNS)
    checked = validate_outcomes(raw, now=utc(2026, 11, 26), channels={"C-3": "email"}, sent=[])
    assert checked.valid.empty
    assert [reason.split(" ", 3)[-1] for reason in checked.quarantine["reason"]] == [
        "has not been sent any message yet, so cannot have answered", "is not a candidate in the ledger"]  # fmt: skip
