"""`followup stop`: a stopped person is neither planned nor sent to again, by any run or sweep,
until the stop is undone; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from flows.campaign import run_campaign
from flows.followup_sweep import sweep
from followup.cli import app
from followup.config import Settings
from followup.models import CandidateStop, Message
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.store import control, open_ledger, sending
from followup.store.owners import Owner
from followup.transports.memory import MemoryTransport

pytestmark = pytest.mark.usefixtures("prefect_harness")
# What a stop does, not the cadence: every moment is a send window.
ANYTIME = Path(__file__).parent / "cadences" / "anytime.yaml"
runner = CliRunner()
LATER = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def frame():
    """12 clean candidates, all by email."""
    return generate_batch(12, seed=5, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)


def settings_for(tmp_path, ledger_url) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                    send_concurrency=4, senders=1, cadence_file=ANYTIME)  # fmt: skip


def messages(url: str) -> list[dict]:
    with open_ledger(url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(Message.__table__))]


def recipients(transport: MemoryTransport) -> set[str]:
    return {envelope.custom_args["candidate_id"] for envelope in transport.outbox}


def a_second_round_due_later(url: str) -> None:
    """Every message rendered again and due at LATER: a round to stop before it goes out."""
    with open_ledger(url).begin() as conn:
        conn.execute(sa.update(Message).values(status="rendered", scheduled_for=LATER, window_closes=None, sent_at=None))


def test_a_stop_lasts_through_reimports_of_the_same_and_a_corrected_file_until_it_is_undone(ledger_url, tmp_path):
    # Four offers among the twelve, the first the one to stop: offers are what a sweep nudges.
    frame = generate_batch(12, seed=8, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    path = write_batch(frame, tmp_path / "round.csv")
    settings = settings_for(tmp_path, ledger_url)
    assert run_campaign(path, "nov", None, settings, SAMPLE_NOW, email=MemoryTransport()).counts == {"sent": 12}
    engine = open_ledger(ledger_url)
    who = frame.iloc[0]["candidate_id"]
    control.stop_candidate(engine, who, "hired elsewhere")

    # The same file again, and a corrected re-export, under other campaigns: one cadence per
    # decision, so nothing is planned twice, and the stopped person is counted as stopped.
    corrected = frame.copy()
    corrected.loc[corrected.index[0], ["first_name", "notes"]] = ["Anabela", "moved to Lisbon"]
    corrected.loc[corrected.index[1], "notes"] = "prefers mornings"
    corrected_path = write_batch(corrected, tmp_path / "round-corrected.csv")
    for campaign, batch in (("nov-again", path), ("nov-corrected", corrected_path)):
        transport = MemoryTransport()
        summary = run_campaign(batch, campaign, None, settings, SAMPLE_NOW, email=transport)
        assert (summary.planned, summary.already_planned, summary.stopped) == (0, 11, 1)
        assert summary.to_json()["stopped"] == 1 and not transport.outbox
    assert [m["campaign"] for m in messages(ledger_url) if m["candidate_id"] == who] == ["nov"]

    # The nudges two business days on go to every offer but the stopped person's (rejections are
    # never nudged), until the stop is undone.
    offers = set(frame.loc[frame["decision"] == "offer", "candidate_id"])
    assert who in offers and len(offers) > 2
    nudges = SAMPLE_NOW + timedelta(days=4)  # Monday: two business days on, before any offer deadline
    transport = MemoryTransport()
    sweep(settings, nudges, email=transport)
    assert recipients(transport) == offers - {who}
    assert control.undo_stop(engine, who) == "hired elsewhere"
    transport = MemoryTransport()
    sweep(settings, nudges, email=transport)
    assert recipients(transport) == {who}


def test_a_stop_recorded_after_rendering_is_never_claimed_and_its_message_is_cancelled(ledger_url, tmp_path, frame):
    path = write_batch(frame, tmp_path / "round.csv")
    settings = settings_for(tmp_path, ledger_url)
    run_campaign(path, "nov", None, settings, SAMPLE_NOW, email=MemoryTransport())
    a_second_round_due_later(ledger_url)
    who = frame.iloc[0]["candidate_id"]
    # As another process records a stop after this run planned and rendered: nothing of the
    # person's was pending when the stop looked, so the stop itself cancelled nothing.
    engine = open_ledger(ledger_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(CandidateStop).values(candidate_id=who, reason="asked us to stop", source="cli"))
    stopped_id = next(m["id"] for m in messages(ledger_url) if m["candidate_id"] == who)

    real_now = datetime.now(timezone.utc)
    due = sending.due_ids(engine, 100, business_now=LATER, real_now=real_now)
    assert len(due) == 11 and stopped_id not in due
    owner = Owner.current()
    claimed = sending.claim(engine, owner, 100, business_now=LATER, real_now=real_now)
    assert len(claimed) == 11 and who not in {row["candidate_id"] for row in claimed}
    sending.release(engine, owner, [row["id"] for row in claimed])

    transport = MemoryTransport()
    sweep(settings, LATER, email=transport)
    assert len(recipients(transport)) == 11 and who not in recipients(transport)
    stopped = next(m for m in messages(ledger_url) if m["id"] == stopped_id)
    assert (stopped["status"], stopped["last_error"]) == ("cancelled", "stopped: asked us to stop")


def test_stop_with_a_reason_then_undo_on_the_command_line(ledger_url, tmp_path, frame, monkeypatch):
    path = write_batch(frame, tmp_path / "round.csv")
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", ledger_url)
    monkeypatch.setenv("FOLLOWUP_FROM_EMAIL", "jobs@acme.example")
    monkeypatch.setenv("FOLLOWUP_TRANSPORT", "file")
    monkeypatch.setenv("FOLLOWUP_CADENCE_FILE", str(ANYTIME))
    monkeypatch.setenv("FOLLOWUP_SECRET_KEY", "a-secret-for-the-tests")  # a PostgreSQL ledger keeps no key file
    first = runner.invoke(app, ["run", str(path), "--campaign", "nov", "--now", SAMPLE_NOW.isoformat()])
    assert first.exit_code == 0, first.output
    a_second_round_due_later(ledger_url)
    who, other = frame.iloc[0]["candidate_id"], frame.iloc[1]["candidate_id"]

    assert runner.invoke(app, ["stop", "no-such-candidate"]).exit_code == 2
    undone = runner.invoke(app, ["stop", who, "--undo"])
    assert undone.exit_code == 2 and "no stop to undo" in undone.stderr
    stopped = runner.invoke(app, ["stop", who, "--reason", "hired elsewhere"])
    assert stopped.exit_code == 0 and stopped.stdout.startswith("1 pending messages")
    assert "hired elsewhere" in stopped.stdout and f"followup stop {who} --undo" in stopped.stdout
    again = runner.invoke(app, ["stop", who, "--reason", "took a counter-offer"])
    assert again.exit_code == 0 and again.stdout.startswith("0 pending messages")
    assert runner.invoke(app, ["stop", other]).stdout.startswith("1 pending messages")
    errors = {m["candidate_id"]: m["last_error"] for m in messages(ledger_url) if m["status"] == "cancelled"}
    assert errors == {who: "stopped: hired elsewhere", other: "stopped by hand"}
    with open_ledger(ledger_url).connect() as conn:
        stops = {r.candidate_id: (r.reason, r.source) for r in conn.execute(sa.select(CandidateStop.__table__))}
    assert stops == {who: ("took a counter-offer", "cli"), other: ("stopped by hand", "cli")}

    run = runner.invoke(app, ["run", str(path), "--campaign", "dec", "--now", LATER.isoformat(), "--json"])
    planned = json.loads(run.stdout)
    assert run.exit_code == 0 and (planned["planned"], planned["already_planned"], planned["stopped"]) == (0, 10, 2)
    run = runner.invoke(app, ["run", str(path), "--campaign", "jan", "--now", LATER.isoformat()])
    assert "2 candidates not planned: they are stopped" in run.stdout

    undone = runner.invoke(app, ["stop", who, "--undo"])
    assert undone.exit_code == 0 and "took a counter-offer" in undone.stdout and "stay cancelled" in undone.stdout
    assert runner.invoke(app, ["stop", who, "--undo"]).exit_code == 2
    assert next(m["status"] for m in messages(ledger_url) if m["candidate_id"] == who and m["campaign"] == "nov") == "cancelled"
    run = runner.invoke(app, ["run", str(path), "--campaign", "feb", "--now", LATER.isoformat(), "--json"])
    planned = json.loads(run.stdout)
    assert (planned["planned"], planned["already_planned"], planned["stopped"]) == (0, 11, 1)
