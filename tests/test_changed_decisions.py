"""A re-import that changes a decision: what was pending for the old one is cancelled and the new
one planned; a decision that changes back continues its first cadence; the candidates who had
already heard the old decision are named, loudly. On SQLite and PostgreSQL, through the campaign
flow, the sweep and the `run` command."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from flows.campaign import run_campaign
from flows.followup_sweep import sweep
from followup.cli import app
from followup.config import Settings
from followup.models import Message
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.store import open_ledger
from followup.transports.memory import MemoryTransport

pytestmark = pytest.mark.usefixtures("prefect_harness")
ANYTIME = Path(__file__).parent / "cadences" / "anytime.yaml"
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)  # no send window anywhere: nothing goes
MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)  # 10:00 in London
runner = CliRunner()


def round_of_four():
    """Four Londoners by email; the first two offers with a phone, a call-back number and two
    weeks to answer."""
    frame = generate_batch(4, seed=5, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    frame["timezone"], frame["country"] = "Europe/London", "GB"
    frame.loc[frame.index[:2], ["decision", "offer_deadline", "phone", "recruiter_phone"]] = [
        "offer", "2026-12-11", "+44 161 496 0519", "+44 20 7946 0876"]  # fmt: skip
    return frame


def cadences(url: str, cid: str) -> list[tuple[str, int, str, str, str | None]]:
    with open_ledger(url).connect() as conn:
        rows = conn.execute(sa.select(Message.cadence, Message.step, Message.channel, Message.status, Message.last_error)
                            .where(Message.candidate_id == cid).order_by(Message.id))  # fmt: skip
        return [tuple(row) for row in rows]


def test_a_changed_decision_cancels_the_old_and_plans_the_new_and_a_change_back_continues_the_first(
    ledger_url, tmp_path
):
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                        send_concurrency=4, senders=1)  # fmt: skip
    frame = round_of_four()
    first, second = frame.iloc[0]["candidate_id"], frame.iloc[1]["candidate_id"]
    transport = MemoryTransport()
    run_campaign(write_batch(frame, tmp_path / "round.csv"), "nov", None, settings, SATURDAY, email=transport)
    assert not transport.outbox
    assert [row[:4] for row in cadences(ledger_url, first)] == [("offer:email", 0, "email", "rendered")]

    # The corrected export: the first offer withdrawn, the second candidate to be called instead.
    frame.loc[frame.index[0], "decision"] = "reject"
    frame.loc[frame.index[1], "channel"] = "voicemail"
    summary = run_campaign(write_batch(frame, tmp_path / "round-fixed.csv"), "nov-fixed", None, settings, SATURDAY,
                           email=transport)  # fmt: skip
    changed = {c["candidate_id"]: c for c in summary.to_json()["changed"]}
    assert changed == {
        first: {"candidate_id": first, "old": "offer:email", "new": "reject:email", "sent": 0, "cancelled": 1},
        second: {"candidate_id": second, "old": "offer:email", "new": "offer:voicemail", "sent": 0, "cancelled": 1},
    }
    assert cadences(ledger_url, first) == [
        ("offer:email", 0, "email", "cancelled", "decision changed: offer:email -> reject:email"),
        ("reject:email", 0, "email", "rendered", None),
    ]
    assert [row[:4] for row in cadences(ledger_url, second)][1:] == [("offer:voicemail", 0, "voicemail", "rendered")]
    assert summary.planned == 2 and not transport.outbox

    # The offer after all: the first cadence's offer waits to go again (to be rendered afresh by the
    # sweep that sends it: it belongs to the first campaign), the rejection is cancelled.
    frame.loc[frame.index[0], "decision"] = "offer"
    summary = run_campaign(write_batch(frame, tmp_path / "round-final.csv"), "nov-final", None, settings, SATURDAY,
                           email=transport)  # fmt: skip
    assert [(c["old"], c["new"]) for c in summary.to_json()["changed"]] == [("reject:email", "offer:email")]
    assert summary.planned == 1
    assert [row[:4] for row in cadences(ledger_url, first)] == [
        ("offer:email", 0, "email", "planned"),
        ("reject:email", 0, "email", "cancelled"),
    ]

    # Monday's sweep sends the offer alone, and the second candidate's call goes on the call sheet.
    monday = MemoryTransport()
    sweep(settings, MONDAY, email=monday)
    to_first = [(e.custom_args["kind"], e.custom_args["campaign"]) for e in monday.outbox
                if e.custom_args["candidate_id"] == first]  # fmt: skip
    assert to_first == [("offer", "nov")]
    assert second not in {e.custom_args["candidate_id"] for e in monday.outbox}
    assert [row[:4] for row in cadences(ledger_url, second)][1:] == [("offer:voicemail", 0, "voicemail", "sent")]


def test_run_names_the_candidates_who_already_heard_the_old_decision(ledger_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", ledger_url)
    monkeypatch.setenv("FOLLOWUP_FROM_EMAIL", "jobs@acme.example")
    monkeypatch.setenv("FOLLOWUP_TRANSPORT", "file")
    monkeypatch.setenv("FOLLOWUP_CADENCE_FILE", str(ANYTIME))
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "a-test-secret-for-the-unsubscribe-links")  # PostgreSQL wants one
    frame = round_of_four()
    first = frame.iloc[0]["candidate_id"]
    now = SAMPLE_NOW.isoformat()
    sent = runner.invoke(app, ["run", str(write_batch(frame, tmp_path / "round.csv")), "--campaign", "nov", "--now", now])
    assert sent.exit_code == 0, sent.output
    assert cadences(ledger_url, first)[0][:4] == ("offer:email", 0, "email", "sent")

    frame.loc[frame.index[0], "decision"] = "reject"
    fixed = str(write_batch(frame, tmp_path / "round-fixed.csv"))
    result = runner.invoke(app, ["run", fixed, "--campaign", "nov-fixed", "--now", now])
    assert result.exit_code == 0, result.output
    assert "Warning: 1 candidates already got a message for the old decision" in result.stderr
    assert f"{first} (offer:email -> reject:email)" in result.stderr
    assert "1 decisions changed since they were planned" in result.stdout

    # The same file again, with --json: the batch's change is listed there too, nothing goes twice.
    outbox = sorted((tmp_path / "data" / "outbox").glob("*.eml"))
    as_json = runner.invoke(app, ["run", fixed, "--campaign", "nov-fixed", "--now", now, "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert [(c["candidate_id"], c["old"], c["new"], c["sent"]) for c in report["changed"]] == [
        (first, "offer:email", "reject:email", 1)
    ]
    assert sorted((tmp_path / "data" / "outbox").glob("*.eml")) == outbox
    assert [row[3] for row in cadences(ledger_url, first)] == ["sent", "sent"]
