"""The campaign flow and the sweep end to end: import, plan, render, send through the sandbox,
exactly once, on SQLite and PostgreSQL; and the controls a recruiter steers them with."""

from __future__ import annotations

import base64
import csv
import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from typer.testing import CliRunner

from flows.campaign import run_campaign
from flows.followup_sweep import sweep
from followup.cli import app
from followup.config import Settings
from followup.models import Campaign, Message, Suppression
from followup.sending.envelopes import CUSTOM_ARG_KEYS, PRODUCT_CATEGORY
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.sandbox import Sandbox, SandboxConfig
from followup.store import control, open_ledger, reports
from followup.transports.memory import MemoryTransport

pytestmark = pytest.mark.usefixtures("prefect_harness")
# Exactly-once sending, pauses and retries, not the cadence: every moment is a send window.
ANYTIME = Path(__file__).parent / "cadences" / "anytime.yaml"
runner = CliRunner()
KEY = "SG.test"


@pytest.fixture
def batch(tmp_path):
    """30 clean candidates across all three channels, and how many of each."""
    frame = generate_batch(30, seed=5, bad_share=0.0, channel_mix=(0.5, 0.3, 0.2), now=SAMPLE_NOW)
    path = write_batch(frame, tmp_path / "round.csv")
    return path, Counter(frame["channel"].replace("", "email"))


@pytest.fixture
def sandbox():
    with Sandbox(SandboxConfig(api_key=KEY)) as running:
        yield running


def settings_for(tmp_path, ledger_url, sandbox=None, **extra) -> Settings:
    values = dict(data_dir=tmp_path / "data", database_url=ledger_url, from_email="jobs@acme.example",
                  from_name="Acme Recruiting", send_concurrency=8, senders=1, cadence_file=ANYTIME)  # fmt: skip
    if sandbox is not None:
        values.update(transport="sendgrid", sendgrid_api_key=SecretStr(KEY), sendgrid_api_host=sandbox.url)
    return Settings(**{**values, **extra})


def ledger(url: str) -> dict[str, dict]:
    with open_ledger(url).connect() as conn:
        return {r.message_key: dict(r._mapping) for r in conn.execute(sa.select(Message.__table__))}


def artifacts():
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_artifacts()


def failed_task_runs(name: str) -> list:
    """The task runs of this name (of every flow run so far) that ended failed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=name)))
    return [run for run in runs if run.state is not None and run.state.is_failed()]


def call_sheet_rows(settings: Settings) -> list[dict]:
    rows = []
    for sheet in sorted(settings.call_sheet_dir.glob("*.csv")):
        with sheet.open(encoding="utf-8", newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def test_a_campaign_sends_every_message_once_and_a_rerun_sends_nothing(ledger_url, tmp_path, batch, sandbox):
    path, channels = batch
    settings = settings_for(tmp_path, ledger_url, sandbox)
    name = f"nov-{uuid.uuid4().hex[:8]}"  # its own artifact keys in the session's Prefect
    summary = run_campaign(path, name, None, settings, SAMPLE_NOW)

    assert summary.exit_code() == 0 and summary.counts == {"sent": 30}
    bodies = [m["body"] for m in sandbox.messages()]
    keys = [body["custom_args"]["message_key"] for body in bodies]
    sheet = call_sheet_rows(settings)
    assert len(bodies) == channels["email"] + channels["in_person"]
    assert len(sheet) == channels["voicemail"]
    assert Counter(keys + [row["message_key"] for row in sheet]) == Counter(set(ledger(ledger_url)))
    for body in bodies:
        args = body["custom_args"]
        assert sorted(args) == sorted(CUSTOM_ARG_KEYS) and all(isinstance(v, str) for v in args.values())
        # Opaque ids only: SendGrid keeps custom_args for good as non-personal data.
        to = body["personalizations"][0]["to"][0]
        assert not any(to["email"] in v or (to.get("name") and to["name"] in v) for v in args.values())
        assert body["categories"][0] == PRODUCT_CATEGORY and body["from"]["email"] == "jobs@acme.example"
        assert "@" in body["reply_to"]["email"]  # the recruiter, so replies reach a person
    invites = [b for b in bodies if b["custom_args"]["channel"] == "in_person"]
    assert invites and all(b["attachments"][0]["type"].startswith("text/calendar") for b in invites)
    assert b"BEGIN:VCALENDAR" in base64.b64decode(invites[0]["attachments"][0]["content"])
    assert all(row["phone"].startswith("'+") and row["script"] for row in sheet)  # E.164, kept as text

    tables = {a.key: a for a in artifacts()}
    assert '"outcome": "sent", "messages": 30' in tables[f"campaign-{name}"].data
    assert tables[f"call-sheet-{name}"].data.count('"phone": "+') == channels["voicemail"]

    again = run_campaign(path, name, None, settings, SAMPLE_NOW)
    assert (again.planned, again.already_planned, again.requests) == (0, 30, 0)
    assert sandbox.stats()["accepted"] == len(bodies) and len(call_sheet_rows(settings)) == len(sheet)


def test_a_prefect_retry_of_the_send_task_sends_nothing_twice(tmp_path, batch):
    """The send task fails after sending (its transport will not close) and Prefect retries it."""

    class FailsOnce(MemoryTransport):
        closes = 0

        def close(self) -> None:
            FailsOnce.closes += 1
            if FailsOnce.closes == 1:
                raise ConnectionError("lost the connection while closing")

    path, channels = batch
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    transport = FailsOnce()
    summary = run_campaign(path, "nov", None, settings_for(tmp_path, url), SAMPLE_NOW, email=transport)
    keys = [envelope.message_key for envelope in transport.outbox]
    assert FailsOnce.closes == 2  # the task ran twice
    assert len(keys) == len(set(keys)) == channels["email"] + channels["in_person"]
    assert summary.counts == {"sent": 30}


def test_a_dry_run_reports_what_would_be_sent_and_stores_and_sends_nothing(tmp_path, batch, sandbox):
    path, channels = batch
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = settings_for(tmp_path, url, sandbox)
    summary = run_campaign(path, "nov", None, settings, SAMPLE_NOW, dry_run=True)

    assert summary.status == "dry_run" and summary.exit_code() == 0
    assert sum(summary.would_send.values()) == 30
    by_channel = Counter()
    for key, n in summary.would_send.items():
        by_channel[key.split("/")[1]] += n
    assert by_channel == channels
    assert len(summary.samples) == 3 and all(s["text_body"] for s in summary.samples)
    assert sandbox.stats()["accepted"] == 0 and not settings.call_sheet_dir.exists()
    assert ledger(url) == {}


def test_a_campaign_pauses_after_failures_in_a_row_then_resumes_and_retries(ledger_url, tmp_path, batch, sandbox):
    path, _ = batch
    wrong_key = settings_for(tmp_path, ledger_url, sandbox, sendgrid_api_key=SecretStr("SG.revoked"),
                             pause_after_failures=3, send_concurrency=1)  # fmt: skip
    summary = run_campaign(path, "nov", None, wrong_key, SAMPLE_NOW)

    assert summary.status == "paused" and summary.exit_code() == 1
    assert "3 messages in a row failed" in summary.reason and "401" in summary.reason
    assert control.campaign_state(open_ledger(ledger_url), "nov")[0].value == "paused"
    assert summary.counts["failed"] == 3 and sandbox.stats()["accepted"] == 0
    # Paused means paused: a sweep with a good key leaves the campaign alone.
    good = settings_for(tmp_path, ledger_url, sandbox)
    assert sweep(good, SAMPLE_NOW).campaigns == {}

    control.resume(open_ledger(ledger_url), "nov")
    assert sweep(good, SAMPLE_NOW).exit_code() == 0
    assert control.retry_failed(open_ledger(ledger_url), "nov") == (0, 3)
    sweep(good, SAMPLE_NOW)
    assert reports.status_counts(open_ledger(ledger_url), "nov") == {"sent": 30}
    assert sandbox.stats()["accepted"] + len(call_sheet_rows(good)) == 30
    # Each sweep leaves the warm list; nobody has opened anything in this round.
    warm = [a for a in artifacts() if a.key == "warm-candidates"]
    assert warm and "Nobody has opened, clicked or answered yet." in warm[0].data


def test_suppressed_addresses_from_the_users_list_are_never_sent(tmp_path, batch, sandbox):
    path, _ = batch
    first = generate_batch(30, seed=5, bad_share=0.0, channel_mix=(0.5, 0.3, 0.2), now=SAMPLE_NOW).iloc[0]
    do_not_contact = tmp_path / "do-not-contact.csv"
    do_not_contact.write_text(f"email,why\n{first['email']},asked us\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    summary = run_campaign(path, "nov", None, settings_for(tmp_path, url, sandbox, suppression_file=do_not_contact),
                           SAMPLE_NOW)  # fmt: skip

    assert summary.counts == {"sent": 29, "suppressed": 1}
    assert summary.reasons == [("suppressed", "suppressed: list", 1)]
    assert f"{summary.reasons[0][0]}" == "suppressed"  # as the summary prints it, not the enum's name
    assert sorted(f"{status}" for status in summary.counts) == ["sent", "suppressed"]
    with open_ledger(url).connect() as conn:
        assert conn.execute(sa.select(Suppression.source)).scalars().all() == ["do-not-contact.csv"]


def test_run_refuses_when_nothing_could_send(tmp_path, batch, monkeypatch):
    path, _ = batch
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FOLLOWUP_FROM_EMAIL", "jobs@acme.example")
    for name in ("SENDGRID_API_KEY", "FOLLOWUP_TRANSPORT"):
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert "followup sandbox" in result.stderr and "FOLLOWUP_TRANSPORT=file" in result.stderr
    assert not (tmp_path / "data" / "followup.db").exists()  # refused before anything was stored

    monkeypatch.delenv("FOLLOWUP_FROM_EMAIL")
    monkeypatch.setenv("FOLLOWUP_TRANSPORT", "file")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "FOLLOWUP_FROM_EMAIL" in result.stderr


def test_the_run_command_writes_eml_files_then_pause_stop_and_cancel_steer_the_ledger(tmp_path, batch, monkeypatch):
    path, channels = batch
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FOLLOWUP_FROM_EMAIL", "jobs@acme.example")
    monkeypatch.setenv("FOLLOWUP_TRANSPORT", "file")
    monkeypatch.setenv("FOLLOWUP_CADENCE_FILE", str(ANYTIME))
    result = runner.invoke(app, ["run", str(path), "--campaign", "nov", "--now", SAMPLE_NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == channels["email"] + channels["in_person"]
    assert "email replies are not tracked" in " ".join(result.stderr.split())

    # A second round, planned in the future, to steer before it goes out.
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    engine = open_ledger(f"sqlite:///{tmp_path / 'data' / 'followup.db'}")
    with engine.begin() as conn:
        conn.execute(sa.update(Message).values(status="rendered", scheduled_for=later))
    candidate = sorted(ledger(str(engine.url)).values(), key=lambda r: r["candidate_id"])[0]["candidate_id"]

    assert runner.invoke(app, ["pause", "nov"]).exit_code == 0
    swept = runner.invoke(app, ["sweep", "--now", later.isoformat()])
    assert swept.stdout.strip().endswith("nothing was due")
    assert "followup outcomes import FILE" in " ".join(swept.stderr.split())
    assert runner.invoke(app, ["stop", candidate]).stdout.startswith("1 pending messages")
    assert runner.invoke(app, ["cancel", "nov"]).exit_code == 0
    assert reports.status_counts(engine, "nov") == {"cancelled": 30}
    listed = json.loads(runner.invoke(app, ["campaigns", "--json"]).stdout)
    assert listed == [{"name": "nov", "state": "cancelled", "reason": "cancelled by hand", "messages": {"cancelled": 30}}]
    assert runner.invoke(app, ["resume", "nov"]).exit_code == 2  # a cancelled campaign stays closed
    again = runner.invoke(app, ["run", str(path), "--campaign", "nov", "--now", later.isoformat()])
    assert again.exit_code == 2 and "was cancelled" in again.stderr
    assert not failed_task_runs("plan-messages")  # refused as an answer, not as a failed task
    assert runner.invoke(app, ["pause", "no-such-campaign"]).exit_code == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(Campaign.state)).scalar() == "cancelled"


def test_every_deployment_in_prefect_yaml_names_a_flow():
    import importlib
    from pathlib import Path

    import yaml
    from prefect import Flow

    spec = yaml.safe_load((Path(__file__).parent.parent / "prefect.yaml").read_text(encoding="utf-8"))
    for deployment in spec["deployments"]:
        path, name = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, name), Flow), deployment["name"]


def test_two_sender_processes_share_a_campaign_without_sending_anything_twice(ledger_url, tmp_path):
    frame = generate_batch(200, seed=9, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    path = write_batch(frame, tmp_path / "big-round.csv")
    # Slow answers and few threads: ten seconds of work for one process, so both get a share.
    with Sandbox(SandboxConfig(api_key=KEY, latency_ms=100)) as sandbox:
        settings = settings_for(tmp_path, ledger_url, sandbox, senders=2, send_concurrency=2)
        summary = run_campaign(path, "nov", None, settings, SAMPLE_NOW)
        sent = sandbox.messages()

    keys = Counter(m["body"]["custom_args"]["message_key"] for m in sent)
    assert summary.counts == {"sent": 200} and len(keys) == 200 and set(keys.values()) == {1}
    with open_ledger(ledger_url).connect() as conn:
        owners = conn.execute(sa.select(sa.func.count(sa.distinct(Message.claimed_by)))).scalar()
    assert owners == 2  # both processes took a share


def test_a_small_campaign_sends_from_its_own_process_and_keeps_the_whole_rate(ledger_url, tmp_path, sandbox):
    """Sender processes take seconds to start: 30 due messages go out from the run's own process."""
    import os

    from followup.sending.setup import SendSetup
    from followup.store.owners import Owner

    settings = settings_for(tmp_path, ledger_url, sandbox, senders=2, send_concurrency=8, send_rate=50.0)
    path = write_batch(generate_batch(30, seed=6, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW),
                       tmp_path / "round.csv")  # fmt: skip
    summary = run_campaign(path, "nov", None, settings, SAMPLE_NOW)

    assert summary.counts == {"sent": 30} and len(sandbox.messages()) == 30
    with open_ledger(ledger_url).connect() as conn:
        claimed_by = set(conn.execute(sa.select(Message.claimed_by)).scalars())
    assert {Owner.parse(owner).pid for owner in claimed_by} == {os.getpid()}
    # Each of two processes would send at half the rate; one alone sends at all of it.
    assert SendSetup.of(settings).policy.rate_per_s == 25.0
    assert SendSetup.of(settings).in_one_process().policy.rate_per_s == 50.0


def test_a_daily_cap_stops_sending_for_the_day_and_the_next_days_sweep_goes_on(tmp_path, sandbox):
    frame = generate_batch(12, seed=4, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    path = write_batch(frame, tmp_path / "round.csv")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    capped = settings_for(tmp_path, url, sandbox, daily_cap=5, send_concurrency=1, timezone="Europe/Berlin")
    summary = run_campaign(path, "nov", None, capped, SAMPLE_NOW)
    assert summary.exit_code() == 0 and summary.counts == {"sent": 5, "rendered": 7}

    assert sweep(capped, SAMPLE_NOW + timedelta(hours=1)).campaigns["nov"]["sent"] == 0  # same day
    assert sweep(capped, SAMPLE_NOW + timedelta(days=1)).campaigns["nov"]["sent"] == 5
    sweep(capped, SAMPLE_NOW + timedelta(days=2))
    keys = Counter(m["body"]["custom_args"]["message_key"] for m in sandbox.messages())
    assert len(keys) == 12 and set(keys.values()) == {1}


def test_a_spent_daily_cap_holds_back_emails_but_not_the_voicemails_on_the_call_sheet(tmp_path, sandbox):
    frame = generate_batch(16, seed=5, bad_share=0.0, channel_mix=(0.5, 0.5, 0.0), now=SAMPLE_NOW)
    path = write_batch(frame, tmp_path / "round.csv")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    capped = settings_for(tmp_path, url, sandbox, daily_cap=2, send_concurrency=1, timezone="Europe/Berlin")
    run_campaign(path, "nov", None, capped, SAMPLE_NOW)

    rows = ledger(url).values()
    calls = [r for r in rows if r["channel"] == "voicemail"]
    emails = [r for r in rows if r["channel"] != "voicemail"]
    assert len(calls) >= 4 and len(emails) >= 4
    assert {r["status"] for r in calls} == {"sent"}  # every call is on today's sheet
    assert len(call_sheet_rows(capped)) == len(calls)
    assert sorted(r["status"] for r in emails).count("sent") == 2 == len(sandbox.messages())
    assert sweep(capped, SAMPLE_NOW + timedelta(days=1)).campaigns["nov"]["sent"] == min(2, len(emails) - 2)


def test_a_voicemail_written_before_its_sender_died_is_settled_from_the_call_sheet(tmp_path, batch):
    """The sheet row is the delivery: found there after a crash, the message is sent, not unknown."""
    import subprocess
    import sys

    from followup.sending.setup import SendSetup
    from followup.stages.sending import recover
    from followup.store.owners import Owner

    def dead_owner() -> Owner:
        child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        me = Owner.current()
        return Owner(me.host, int(child.stdout), me.started_at)

    path, _ = batch
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = settings_for(tmp_path, url, transport="file")
    run_campaign(path, "nov", None, settings, SAMPLE_NOW)
    calls = [row for row in ledger(url).values() if row["channel"] == "voicemail"]
    on_sheet, lost = calls[0]["message_key"], calls[1]["message_key"]
    with open_ledger(url).begin() as conn:  # as a sender killed mid-batch leaves them
        conn.execute(sa.update(Message).where(Message.message_key.in_([on_sheet, lost]))
                     .values(status="sending", claimed_by=str(dead_owner())))  # fmt: skip
    for sheet in settings.call_sheet_dir.glob("*.csv"):  # the lost one never reached its sheet
        lines = sheet.read_text(encoding="utf-8").splitlines()
        sheet.write_text("\n".join(line for line in lines if lost not in line) + "\n", encoding="utf-8")

    recovered = recover(SendSetup.of(settings))
    after = ledger(url)
    assert after[on_sheet]["status"] == "sent" and after[on_sheet]["provider_message_id"].startswith("call-sheet:")
    assert after[lost]["status"] == "unknown"
    assert (recovered["reconciled"], recovered["unknown"]) == (1, 1)


def test_a_sweep_with_the_hold_on_counts_the_held_nudges_and_sends_them_once_replies_are_tracked(tmp_path, monkeypatch):
    from followup.cadence.file import default_cadence_file

    hold = tmp_path / "hold.yaml"
    hold.write_text(default_cadence_file().read_text(encoding="utf-8").replace(
        "hold_email_nudges_until_replies_tracked: false", "hold_email_nudges_until_replies_tracked: true"))
    path = tmp_path / "round.csv"
    path.write_text("candidate_id,email,first_name,last_name,role,decision,timezone,decided_at\n"
                    "C-1,ana@example.com,Ana,Silva,Analyst,offer,America/New_York,2026-11-13T15:00:00Z\n")
    for name, value in {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_FROM_EMAIL": "jobs@acme.example",
                        "FOLLOWUP_TRANSPORT": "file", "FOLLOWUP_CADENCE_FILE": str(hold)}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    outbox = tmp_path / "data" / "outbox"
    ran = runner.invoke(app, ["run", str(path), "--campaign", "nov", "--now", "2026-11-16T15:00:00Z"])
    assert ran.exit_code == 0, ran.output
    assert "Email nudges are held until FOLLOWUP_REPLY_DOMAIN is set" in " ".join(ran.stderr.split())

    swept = runner.invoke(app, ["sweep", "--now", "2026-11-18T15:00:00Z"])  # the nudge is due
    assert swept.exit_code == 0, swept.output
    assert "email nudges held until replies are tracked: 1" in swept.stdout
    assert "Email nudges are held" in " ".join(swept.stderr.split())
    assert len(list(outbox.glob("*.eml"))) == 1

    monkeypatch.setenv("FOLLOWUP_REPLY_DOMAIN", "replies.acme.example")
    monkeypatch.setenv("FOLLOWUP_INBOUND_TOKEN", "t" * 32)
    for day in ("19", "20"):
        swept = runner.invoke(app, ["sweep", "--now", f"2026-11-{day}T15:00:00Z", "--json"])
        assert swept.exit_code == 0, swept.output
        assert json.loads(swept.stdout)["next_steps"]["held_until_replies_tracked"] == 0
        assert swept.stderr.strip() == ""  # replies tracked and received: no note
    assert len(list(outbox.glob("*.eml"))) == 2  # the offer and its nudge, once
