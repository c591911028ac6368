"""`followup report` as a user runs it, in a process of its own over a ledger of sent messages,
events and responses; and the weekly flow's Prefect artifacts."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from followup.config import Settings
from followup.models import Batch, Candidate, Decision, Message, Response
from followup.store import open_ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
NOW = "2026-04-01T00:00:00Z"


def seed(url: str, people: int = 40) -> None:
    """`people` offers, every fourth by voicemail, the odd ones accepted a day later."""
    engine = open_ledger(url)
    with engine.begin() as conn:
        conn.execute(sa.insert(Batch).values(id="b1", source_name="r.csv", file_sha256="0" * 64, status="imported"))
        for n in range(people):
            channel = "voicemail" if n % 4 == 3 else "email"
            conn.execute(sa.insert(Candidate).values(candidate_id=f"c{n}", email=f"p{n}@example.org", first_name="A",
                                                     last_name="B", channel=channel, first_batch_id="b1",
                                                     last_batch_id="b1", timezone="Europe/London"))  # fmt: skip
            decision = conn.execute(sa.insert(Decision).values(
                candidate_id=f"c{n}", batch_id="b1", source_line=n, role="R", decision="offer",
                decided_at=T0 - timedelta(days=3)).returning(Decision.id)).scalar_one()  # fmt: skip
            conn.execute(sa.insert(Message).values(
                message_key=f"k{n}", campaign="spring", candidate_id=f"c{n}", decision_id=decision,
                cadence=f"offer:{channel}", kind="offer", step=0, channel=channel, status="sent", sent_at=T0,
                delivered_at=T0 + timedelta(seconds=5), variant="a" if n % 2 else "b"))  # fmt: skip
            if n % 2:
                conn.execute(sa.insert(Response).values(candidate_id=f"c{n}", message_key=f"k{n}", channel=channel,
                                                        outcome="accepted", received_at=T0 + timedelta(days=1)))


def followup(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "followup.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_report_writes_the_files_and_json_prints_only_the_document(tmp_path, child_env):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    seed(url)
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), FOLLOWUP_DATABASE_URL=url,
                    PREFECT_HOME=str(tmp_path / "prefect"))  # fmt: skip
    done = followup("report", "--json", "--now", NOW, env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    email, voicemail = document["by_channel"]["email"], document["by_channel"]["voicemail"]
    assert (email["n"], email["responses"], email["flagged"]) == (30, 10, False)  # every fourth is a voicemail
    assert (voicemail["n"], voicemail["responses"], voicemail["flagged"]) == (10, 10, True)
    assert document["funnel"]["accepted"] == 20 and document["window"]["since"] is None
    reports = tmp_path / "data" / "reports"
    assert {"report.html", "report.json", "by_channel.csv"} <= {p.name for p in reports.iterdir()}
    assert json.loads((reports / "report.json").read_text(encoding="utf-8"))["funnel"] == document["funnel"]

    out = tmp_path / "elsewhere"
    told = followup("report", "--now", NOW, "--since", "2026-03-01", "--out", str(out), env=env)
    assert told.returncode == 0, told.stderr
    assert f"Report: {out / 'report.html'}" in told.stdout and "40 contacted" in told.stdout
    assert "Traceback" not in told.stderr and "Response report" in (out / "report.html").read_text(encoding="utf-8")

    later = followup("report", "--json", "--now", NOW, "--since", "2026-03-10", env=env)
    assert json.loads(later.stdout)["funnel"]["contacted"] == 0  # nobody was first written to after that


def test_a_report_on_a_new_ledger_says_no_one_was_contacted(tmp_path, child_env):
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), PREFECT_HOME=str(tmp_path / "prefect"))
    done = followup("report", "--now", NOW, env=env)
    assert done.returncode == 0, done.stderr
    assert "No one was contacted in this window." in done.stdout and "Traceback" not in done.stderr
    assert (tmp_path / "data" / "reports" / "report.html").is_file()


@pytest.mark.parametrize(("args", "words"), [
    (("--until", "2026-05-01", "--now", NOW), "is after --now"),
    (("--since", "last week", "--now", NOW), "--since 'last week' is not an ISO 8601 time"),
    (("--since", "2026-04-01", "--until", "2026-03-01", "--now", NOW), "is not before --until"),
])  # fmt: skip
def test_report_refuses_a_window_it_cannot_read(tmp_path, child_env, args, words):
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"))
    done = followup("report", *args, env=env)
    assert done.returncode == 2 and words in done.stderr.replace("\n", " "), done.stderr


@pytest.mark.usefixtures("prefect_harness")
def test_the_weekly_flow_leaves_its_table_and_summary_as_artifacts(ledger_url, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.response_report import response_report

    seed(ledger_url)
    settings = Settings(data_dir=tmp_path / "data", database_url=ledger_url, timezone="Europe/London")
    out = tmp_path / f"report-{uuid.uuid4().hex[:6]}"
    document, files = response_report(settings, None, datetime(2026, 4, 1, tzinfo=timezone.utc), "spring", out)
    assert document["campaign"] == "spring" and files["html"] == str(out / "report.html")
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()  # every run's of the session: each key keeps its history
    tables = [a for a in artifacts if a.key == "response-rates-by-channel"]
    assert tables and all(a.type == "table" for a in tables)
    assert any({"channel": "email"}.items() <= row.items() for a in tables for row in json.loads(a.data))
    summaries = [a.data for a in artifacts if a.key == "response-report"]
    assert any("40 contacted" in text and str(out / "report.html") in text for text in summaries)
