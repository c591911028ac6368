"""The render stage against the ledger, and the preview / templates commands a recruiter uses."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from followup import importing, validation
from followup.cli import app
from followup.config import Settings
from followup.models import Decision, Message
from followup.stages.rendering import RenderSetup
from followup.samples import ensure_sample
from followup.store import close_ledger, open_ledger
from followup.store.batches import BatchRecord, store_batch
from followup.store.messages import planned_ids, save_render_results
from tasks.rendering import render_messages

runner = CliRunner()


def import_sample(url: str, data_dir) -> list[dict]:
    """The demo's sample, validated and stored without Prefect: a realistic ledger."""
    raw = importing.read_batch(ensure_sample(data_dir))
    checked = validation.validate_batch(raw, batch_id="b1", docs_dir=None)
    store_batch(open_ledger(url), BatchRecord(id="b1", source_name="sample", file_sha256="0" * 64), checked.valid)
    with open_ledger(url).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT d.id AS decision_id, d.candidate_id, d.decision, c.channel "
            "FROM decisions d JOIN candidates c USING (candidate_id) ORDER BY d.candidate_id"
        ))]  # fmt: skip


def plan(url: str, decisions: list[dict], kind_for=None) -> None:
    kind_for = kind_for or (lambda d: "offer" if d["decision"] == "offer" else "rejection")
    rows = [
        {"message_key": f"k-{d['candidate_id']}", "campaign": "nov", "candidate_id": d["candidate_id"],
         "decision_id": d["decision_id"], "kind": kind_for(d), "step": 0, "channel": d["channel"]}
        for d in decisions
    ]  # fmt: skip
    with open_ledger(url).begin() as conn:
        conn.execute(sa.insert(Message), rows)


def statuses(url: str) -> dict[str, tuple]:
    with open_ledger(url).connect() as conn:
        rows = conn.execute(sa.text("SELECT candidate_id, status, variant, template, subject, text_body, last_error FROM messages"))
        return {r.candidate_id: r for r in rows}


def test_planned_messages_render_into_the_ledger_in_chunks(ledger_url, tmp_path):
    decisions = import_sample(ledger_url, tmp_path)
    plan(ledger_url, decisions)
    ids = planned_ids(open_ledger(ledger_url), campaign="nov")
    counts = [render_messages.fn(ledger_url, chunk, RenderSetup()) for chunk in (ids[:20], ids[20:])]
    assert sum(c["rendered"] for c in counts) == len(decisions)
    rows = statuses(ledger_url)
    offer = next(d for d in decisions if d["decision"] == "offer" and d["channel"] == "email")
    row = rows[offer["candidate_id"]]
    # The shipped subject-line test (offer.b) changes the subject only: the page is the base's.
    assert row.status == "rendered" and row.variant in ("a", "b") and row.template == "offer/email.html.j2"
    assert ("offer" in row.subject.lower() if row.variant == "a" else "join us" in row.subject) and row.text_body
    voicemail = next(d for d in decisions if d["channel"] == "voicemail")
    assert rows[voicemail["candidate_id"]].template.endswith("voicemail.txt.j2")
    # A retry of a chunk already done changes nothing.
    assert render_messages.fn(ledger_url, ids[:20], RenderSetup()) == {"rendered": 0, "failed": 0}


def test_a_big_campaign_renders_over_worker_processes_the_same_as_in_one(ledger_url, tmp_path, monkeypatch):
    from followup.stages import rendering as render_stage

    decisions = import_sample(ledger_url, tmp_path)
    plan(ledger_url, decisions)
    ids = planned_ids(open_ledger(ledger_url), campaign="nov")
    monkeypatch.setattr(render_stage, "CHUNK", 7)  # several chunks for two workers
    counts = render_stage.render_in_processes(ledger_url, ids, RenderSetup(), None, 2)
    assert counts == {"rendered": len(decisions), "failed": 0}
    in_processes = statuses(ledger_url)
    with open_ledger(ledger_url).begin() as conn:
        conn.execute(sa.update(Message).values(status="planned", template=None, subject=None, text_body=None))
    render_messages.fn(ledger_url, ids, RenderSetup())
    assert statuses(ledger_url) == in_processes


def test_render_workers_forked_after_the_run_changed_directory_open_the_same_relative_ledger(tmp_path, monkeypatch):
    """The workers come from a server started earlier, elsewhere (a flow run's start, or another
    test's): they still work in the caller's directory, so `sqlite:///followup.db` is one file."""
    from followup.stages import rendering as render_stage
    from followup.stages import workers

    workers.start_early()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(render_stage, "CHUNK", 7)
    url = "sqlite:///followup.db"
    try:
        decisions = import_sample(url, tmp_path)
        plan(url, decisions)
        ids = planned_ids(open_ledger(url), campaign="nov")
        counts = render_stage.render_in_processes(url, ids, RenderSetup(), None, 2)
        rows = statuses(url)
    finally:
        close_ledger(url)  # the next test's relative URL is another file
    assert counts == {"rendered": len(decisions), "failed": 0}
    assert len(rows) == len(decisions) and {row.status for row in rows.values()} == {"rendered"}
    assert [path.relative_to(tmp_path) for path in tmp_path.rglob("followup.db")] == [Path("followup.db")]


def test_the_company_settings_reach_the_render_stage(ledger_url, tmp_path):
    """Keep-in-touch mail needs the unsubscribe URL, and a meeting the export gave no place for
    needs the office: both come from the settings the flows run with."""
    decisions = import_sample(ledger_url, tmp_path)
    rejected = [d for d in decisions if d["decision"] == "reject" and d["channel"] == "email"][:3]
    offered = [d for d in decisions if d["decision"] == "offer" and d["channel"] in ("email", "in_person")][:3]
    with open_ledger(ledger_url).begin() as conn:
        conn.execute(sa.update(Decision).where(Decision.candidate_id.in_([d["candidate_id"] for d in offered]))
                     .values(meeting_location=None, meeting_at=None))  # fmt: skip
    plan(ledger_url, rejected + offered, lambda d: "keep_in_touch" if d["decision"] == "reject" else "in_person_invite")
    ids = planned_ids(open_ledger(ledger_url), campaign="nov")
    assert render_messages.fn(ledger_url, ids, RenderSetup()) == {"rendered": 0, "failed": 6}

    with open_ledger(ledger_url).begin() as conn:
        conn.execute(sa.update(Message).values(status="planned", last_error=None))
    settings = Settings(data_dir=tmp_path / "data", office="Example House, 1 Sample Street, London",
                        unsubscribe_url="https://jobs.example.com/unsubscribe")  # fmt: skip
    assert render_messages.fn(ledger_url, ids, RenderSetup.of(settings)) == {"rendered": 6, "failed": 0}
    rows = statuses(ledger_url)
    for d in rejected:
        assert "https://jobs.example.com/unsubscribe/" in rows[d["candidate_id"]].text_body
    for d in offered:
        assert "Example House, 1 Sample Street, London" in rows[d["candidate_id"]].text_body


def test_a_message_that_cannot_render_fails_alone_with_the_reason(ledger_url, tmp_path):
    decisions = import_sample(ledger_url, tmp_path)[:6]
    broken = tmp_path / "templates"
    (broken / "rejection").mkdir(parents=True)
    (broken / "rejection" / "email.subject.j2").write_text("About {{ rol }}\n", encoding="utf-8")
    plan(ledger_url, decisions)
    result = render_messages.fn(ledger_url, planned_ids(open_ledger(ledger_url)), RenderSetup(broken))
    rejected_by_email = [d for d in decisions if d["decision"] == "reject" and d["channel"] == "email"]
    assert result["failed"] == len(rejected_by_email) > 0
    row = statuses(ledger_url)[rejected_by_email[0]["candidate_id"]]
    assert row.status == "failed"
    assert "rol" in row.last_error and "rejection/email.subject.j2" in row.last_error


def test_preview_shows_the_message_as_json_and_refuses_crossed_kinds(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    decisions = import_sample(url, tmp_path)
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data")}
    offer = next(d for d in decisions if d["decision"] == "offer")
    result = runner.invoke(app, ["preview", "--candidate", offer["candidate_id"], "--kind", "offer",
                                 "--channel", "voicemail", "--json"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["channel"] == "voicemail" and shown["script"] and len(shown["script"].split()) <= 75
    html_file = tmp_path / "offer.html"
    result = runner.invoke(app, ["preview", "--candidate", offer["candidate_id"], "--kind", "offer",
                                 "--channel", "email", "--html", str(html_file)], env=env)  # fmt: skip
    assert result.exit_code == 0 and html_file.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    crossed = runner.invoke(app, ["preview", "--candidate", offer["candidate_id"], "--kind", "rejection"], env=env)
    assert crossed.exit_code == 2 and "offer" in crossed.stderr
    unknown = runner.invoke(app, ["preview", "--candidate", "C-nobody", "--kind", "offer"], env=env)
    assert unknown.exit_code == 2 and "C-nobody" in unknown.stderr
    spoken = runner.invoke(app, ["preview", "--candidate", offer["candidate_id"], "--kind", "offer",
                                 "--channel", "voicemail"], env=env)  # fmt: skip
    assert spoken.exit_code == 0 and "Call sheet phone: +" in spoken.stdout and shown["script"] in spoken.stdout


def test_preview_of_keep_in_touch_mail_takes_the_unsubscribe_url_from_the_settings(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    rejected = next(d for d in import_sample(url, tmp_path) if d["decision"] == "reject")
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data")}
    args = ["preview", "--candidate", rejected["candidate_id"], "--kind", "keep_in_touch", "--channel", "email"]
    refused = runner.invoke(app, args, env=env)
    assert refused.exit_code == 1 and "FOLLOWUP_UNSUBSCRIBE_URL" in refused.stderr
    shown = runner.invoke(app, args, env={**env, "FOLLOWUP_UNSUBSCRIBE_URL": "https://jobs.example.com/unsubscribe"})
    assert shown.exit_code == 0, shown.stderr
    assert "List-Unsubscribe: <https://jobs.example.com/unsubscribe/" in shown.stdout


def test_templates_check_passes_ours_and_reports_a_template_reaching_python_internals(tmp_path):
    assert runner.invoke(app, ["templates", "check"]).exit_code == 0
    hostile = tmp_path / "mine"
    (hostile / "offer").mkdir(parents=True)
    (hostile / "offer" / "email.subject.j2").write_text("{{ ''.__class__.__mro__ }}\n", encoding="utf-8")
    result = runner.invoke(app, ["templates", "check", "--templates", str(hostile), "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert any(p["template"] == "offer/email.subject.j2" for p in problems)


def test_render_results_store_json_parts_or_null_and_touch_only_planned_rows(ledger_url, tmp_path):
    decisions = import_sample(ledger_url, tmp_path)[:4]
    plan(ledger_url, decisions)
    engine = open_ledger(ledger_url)
    first, second, third, moved_on = planned_ids(engine)
    with engine.begin() as conn:
        conn.execute(sa.update(Message).where(Message.id == moved_on).values(status="cancelled"))
    parts = {"variant": "a", "template": "t.j2", "subject": "S", "text_body": "T\n", "html_body": "<p>H</p>\n"}
    save_render_results(
        engine,
        [
            {"id": first, **parts, "headers": {"List-Unsubscribe": "<https://u>"}, "attachments": [{"filename": "a.ics"}], "call_sheet": None},
            {"id": second, **parts, "headers": None, "attachments": None, "call_sheet": {"phone": "+1"}},
            {"id": moved_on, **parts, "headers": None, "attachments": None, "call_sheet": None},
        ],
        [{"id": third, "variant": None, "last_error": "no template"}],
    )  # fmt: skip
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(Message.__table__))}
        nulls = dict(conn.execute(sa.text("SELECT id, headers IS NULL AND attachments IS NULL FROM messages")).all())
    assert rows[first].status == "rendered" and rows[first].subject == "S" and rows[first].html_body == "<p>H</p>\n"
    assert rows[first].headers == {"List-Unsubscribe": "<https://u>"} and rows[first].attachments == [{"filename": "a.ics"}]
    assert rows[first].call_sheet is None and rows[second].call_sheet == {"phone": "+1"}
    assert nulls[second] and not nulls[first]  # SQL NULL, not the JSON text 'null'
    assert rows[third].status == "failed" and rows[third].last_error == "no template" and rows[third].variant is None
    assert rows[moved_on].status == "cancelled" and rows[moved_on].subject is None


def test_a_nudge_names_the_reply_by_date_the_offer_named_unless_the_deadline_does(ledger_url, tmp_path):
    """Without an offer deadline the date is set by the first message: a nudge rendered days later
    names the same one, counted from when the cadence started, not from its own day."""
    export = tmp_path / "round.csv"
    export.write_text(
        "candidate_id,email,first_name,last_name,role,decision,timezone,offer_deadline\n"
        "C-OPEN,ann@example.com,Ann,Lee,Data Engineer,offer,America/New_York,\n"
        "C-DUE,bo@example.com,Bo,Li,Analyst,offer,America/New_York,2026-12-11\n",
        encoding="utf-8",
    )
    checked = validation.validate_batch(importing.read_batch(export), batch_id="b1", docs_dir=None)
    engine = open_ledger(ledger_url)
    store_batch(engine, BatchRecord(id="b1", source_name="round.csv", file_sha256="0" * 64), checked.valid)
    offer_at = datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc)  # Monday 09:00 in New York
    sent_at = offer_at + timedelta(minutes=3)
    nudge_at = datetime(2026, 12, 3, 14, 0, tzinfo=timezone.utc)  # three days on
    with engine.begin() as conn:
        decision_of = dict(conn.execute(sa.select(Decision.candidate_id, Decision.id)).all())
        conn.execute(sa.insert(Message), [
            {"message_key": f"k-{cid}-{step}", "campaign": "nov", "candidate_id": cid, "decision_id": decision_of[cid],
             "kind": kind, "step": step, "channel": "email", "scheduled_for": due, "cadence_started_at": started}
            for cid in decision_of
            for step, kind, due, started in ((0, "offer", offer_at, None), (1, "offer_nudge", nudge_at, sent_at))
        ])  # fmt: skip
        step_of = dict(conn.execute(sa.select(Message.id, Message.step)).all())
    ids = planned_ids(engine)
    render_messages.fn(ledger_url, [i for i in ids if step_of[i] == 0], RenderSetup(), offer_at - timedelta(hours=1))
    render_messages.fn(ledger_url, [i for i in ids if step_of[i] == 1], RenderSetup(), nudge_at)

    with engine.connect() as conn:
        texts = {(r.candidate_id, r.step): r.text_body for r in conn.execute(sa.select(Message.__table__))}
    for cid, named in (("C-OPEN", "December 14, 2026"), ("C-DUE", "December 11, 2026")):
        offer, nudge = texts[cid, 0], texts[cid, 1]
        assert "I wanted to check in" in nudge  # the nudge's text, and it names a date
        assert named in offer and named in nudge, (cid, offer, nudge)
    assert "December 17, 2026" not in texts["C-OPEN", 1]  # two weeks from the nudge's own day


def test_variants_turned_off_in_the_settings_are_not_rendered(ledger_url, tmp_path):
    decisions = import_sample(ledger_url, tmp_path)
    plan(ledger_url, decisions)
    ids = planned_ids(open_ledger(ledger_url), campaign="nov")
    setup = RenderSetup.of(Settings(data_dir=tmp_path / "settings", variants_off="offer.b"))
    assert render_messages.fn(ledger_url, ids, setup)["rendered"] > 0
    rendered = [row for row in statuses(ledger_url).values() if row.status == "rendered"]
    assert {row.variant for row in rendered} == {"a"}  # the sample's offers would be split a/b otherwise
