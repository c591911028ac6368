"""`followup demo` as a new user meets it: a separate process, on a terminal and with --json, playing
a whole round (smaller than the default 2,000 candidates, so the suite stays quick) in its own
folder, and leaving a ledger that holds every step it played."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from followup.models import Batch, Event, Message, Reply, Response
from followup.samples import SAMPLE_NOW, generate_batch
from followup.store import open_ledger
from followup.store.dialect import aware

CANDIDATES = 300
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def demo_env(tmp_path: Path, child_env) -> dict[str, str]:
    # The user's own ledger, named where the demo could find it: it must stay untouched.
    return child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), PREFECT_HOME=str(tmp_path / "prefect"),
                     FOLLOWUP_DATABASE_URL=f"sqlite:///{tmp_path / 'users-own.db'}")  # fmt: skip


def on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str]:
    """Run a command with stdout and stderr on a pseudo-terminal, as in a user's shell: (exit code, what it showed)."""
    import pty

    leader, follower = pty.openpty()
    child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                             env={**env, "COLUMNS": "160", "TERM": "xterm-256color"})  # fmt: skip
    os.close(follower)
    shown = bytearray()
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                child.kill()
                pytest.fail(f"no output for {timeout} s: {bytes(shown[-2000:]).decode(errors='replace')}")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    return child.wait(timeout=60), _ANSI.sub("", bytes(shown).decode("utf-8", errors="replace"))


def test_the_demo_plays_a_round_on_a_clean_terminal_and_keeps_every_step_in_its_own_ledger(tmp_path, child_env):
    env = demo_env(tmp_path, child_env)
    command = [sys.executable, "-m", "followup.cli", "demo", "--candidates", str(CANDIDATES)]
    # A short round on the terminal (the suite's time is better spent on the whole one below).
    code, shown = on_a_terminal([*command, "--days", "3"], env)
    assert code == 0, shown
    # A bar for each stage, then the summary; no traceback, warning or log line in between.
    for stage in ("Campaign: import, validate, render, send", "Follow-ups over 3 days", "Response report"):
        assert stage in shown, shown
    for noise in ("Traceback", "Warning", "WARNING", "INFO", "ERROR", "prefect.io", "temporary server"):
        assert noise not in shown, shown
    demo = tmp_path / "data" / "demo"
    for line in (f"Round of {CANDIDATES} candidates", "Imported:", "Sent:", "accepted no message twice", "Candidates:",
                 "Warming up, no answer yet:", f"Report: {demo / 'reports' / 'report.html'}",
                 f"Call sheets: {demo / 'call_sheets'}", "Prefect flow run: "):  # fmt: skip
        assert line in shown, shown
    assert not (tmp_path / "users-own.db").exists()

    # The whole two weeks with --json: a fresh round in the same folder, not the first one continued.
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    check_the_round(summary, demo)
    assert not (tmp_path / "users-own.db").exists()


def check_the_round(summary: dict, demo: Path) -> None:
    truth = generate_batch(CANDIDATES, seed=7, bad_share=0.01, now=SAMPLE_NOW)
    batch = summary["batch"]
    # Both rows of a duplicated candidate id are quarantined; the truth marks only the later one.
    twice = int((truth["_fault"] == "duplicate_candidate_id").sum())
    assert (batch["rows"], batch["quarantined"]) == (CANDIDATES, int(truth["_bad"].sum()) + twice)
    assert Path(batch["quarantine_file"]).parent == demo / "quarantine" and Path(batch["quarantine_file"]).exists()
    assert len(set(truth["timezone"][~truth["_bad"]])) >= 6 and len(set(truth["country"][~truth["_bad"]])) >= 6
    assert Path(summary["files"]["report"]) == demo / "reports" / "report.html"
    assert Path(summary["files"]["report"]).exists() and list((demo / "call_sheets").glob("*.csv"))
    assert summary["ledger"] == f"sqlite:///{demo / 'followup.db'}"

    engine = open_ledger(summary["ledger"])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Batch)).scalar_one() == 1  # a fresh round
        messages = conn.execute(sa.select(Message.candidate_id, Message.kind, Message.step, Message.channel,
                                          Message.status, Message.sent_at, Message.plan_note)).all()  # fmt: skip
        events = Counter(conn.execute(sa.select(Event.event)).scalars())
        responses = conn.execute(sa.select(Response.candidate_id, Response.outcome, Response.channel,
                                           Response.received_at)).all()  # fmt: skip
        forwarded = conn.execute(sa.select(sa.func.count()).select_from(Reply)
                                 .where(Reply.forwarded_at.is_not(None))).scalar_one()  # fmt: skip
    sent = [m for m in messages if m.status == "sent"]
    # Every channel and both decisions; nudges followed the first messages over the two weeks.
    assert {m.channel for m in sent} == {"email", "voicemail", "in_person"}
    assert {"offer", "rejection", "offer_nudge"} <= {m.kind for m in sent}
    assert sum(1 for m in sent if m.step > 0) == summary["sent"]["follow_ups"] > 0
    assert max(aware(m.sent_at) for m in sent) > SAMPLE_NOW + timedelta(days=7)  # the clock went through the days
    # Exactly once: every email the ledger says was sent reached the sandbox, and none twice.
    by_email = sum(1 for m in sent if m.channel in ("email", "in_person"))
    assert summary["sandbox"]["accepted"] == by_email + forwarded and summary["sandbox"]["accepted_twice"] == 0
    # What the candidates did came back: deliveries, opens, clicks, bounces, replies and out-of-office
    # answers by email, call-backs and meetings recorded by the recruiters.
    assert {"delivered", "open", "click", "bounce"} <= set(events)
    outcomes = Counter(r.outcome for r in responses)
    assert {"called_back", "no_answer", "attended", "no_show", "out_of_office"} <= set(outcomes), outcomes
    assert outcomes["accepted"] + outcomes["replied"] + outcomes["question"] > 0
    assert any((m.plan_note or "").startswith("postponed") for m in messages)  # an out-of-office held a nudge
    # An answer by email stops that candidate's nudges: nothing went to them after it.
    answered = {}
    for r in responses:
        if r.channel == "email" and r.outcome in ("accepted", "declined", "replied", "question", "opt_out"):
            answered[r.candidate_id] = min(answered.get(r.candidate_id, aware(r.received_at)), aware(r.received_at))
    assert answered
    late = [m for m in sent if m.candidate_id in answered and aware(m.sent_at) > answered[m.candidate_id]]
    assert late == []
    assert summary["funnel"]["responded"] > 0 and summary["recommendations"]
