"""`followup` as a separate process, the way a recruiter's terminal and a cron job see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from followup.samples import ensure_sample
from tests.conftest import without_user_settings


def followup(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "followup.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_import_in_a_fresh_process_prints_only_what_the_user_needs(tmp_path):
    """No GX progress bars, no Prefect start-up or shutdown chatter, and --json alone on stdout."""
    sample = ensure_sample(tmp_path / "data")
    # No Prefect API and a Prefect home of its own where no local server was started: the run
    # starts (and stops) Prefect's temporary server, as on a machine where nothing runs yet.
    env = {**without_user_settings(os.environ), "FOLLOWUP_DATA_DIR": str(tmp_path / "data"),
           "PREFECT_HOME": str(tmp_path / "prefect")}  # fmt: skip
    for noisy in ("PREFECT_LOGGING_LEVEL", "PREFECT_API_URL"):
        env.pop(noisy, None)
    done = followup("import", str(sample), "--json", env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "imported" and summary["quarantined"] > 0
    for noise in ("Calculating Metrics", "Traceback", "temporary server", "Finished in state", "it/s"):
        assert noise not in done.stderr, done.stderr


def test_a_refused_file_is_an_answer_not_a_failed_prefect_task(tmp_path, child_env):
    """No task-run error, no traceback: the refusal, and --json alone on stdout."""
    headless = tmp_path / "no-columns.csv"
    headless.write_text("Name,Mail\nAnn,ann@example.com\n", encoding="utf-8")
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"))
    env.pop("PREFECT_LOGGING_LEVEL", None)
    refused = followup("import", str(headless), "--json", env=env)
    assert refused.returncode == 2 and json.loads(refused.stdout)["status"] == "refused"
    assert refused.stderr.startswith("Refused: no-columns.csv is missing required columns"), refused.stderr
    for noise in ("Traceback", "prefect", "Finished in state"):
        assert noise not in refused.stderr, refused.stderr


def test_the_suite_runs_without_the_users_settings():
    """Whatever the shell exported, the tests see none of the tool's settings but the suite's own."""
    leaked = [name for name in os.environ
              if name.startswith(("FOLLOWUP_", "SENDGRID_")) and not name.startswith("FOLLOWUP_TEST_")]  # fmt: skip
    assert leaked == []


def test_a_child_process_never_inherits_the_users_ledger_or_keys(tmp_path, child_env, monkeypatch):
    """A user's ledger named in the parent's environment stays untouched: the child uses its own."""
    users_ledger = tmp_path / "users-own.db"
    users_ledger.write_bytes(b"the user's ledger")
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", f"sqlite:///{users_ledger}")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.the-users-own-key")
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"))
    assert "FOLLOWUP_DATABASE_URL" not in env and "SENDGRID_API_KEY" not in env

    listed = followup("campaigns", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert users_ledger.read_bytes() == b"the user's ledger"
    assert (tmp_path / "data" / "followup.db").is_file()  # the default ledger, under the data dir given


def test_a_ledger_that_cannot_be_reached_is_said_once_without_a_traceback(tmp_path, child_env):
    """PostgreSQL down (nothing listens on the port): the sweep fails, exit 1, and says why and what to do."""
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), FOLLOWUP_TRANSPORT="file",
                    FOLLOWUP_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:1/test",
                    FOLLOWUP_SECRET_KEY="ledger-down-test-secret-0123456789", FOLLOWUP_FROM_EMAIL="jobs@acme.example")  # fmt: skip
    done = followup("sweep", env=env)
    assert done.returncode == 1, done.stderr
    assert "The ledger could not be reached: connection failed" in done.stderr and "followup sweep" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_sigterm_stops_a_command_at_once_with_one_line_and_nothing_left_running(tmp_path, child_env):
    """A service manager's stop (or `kill`): unwound like Ctrl-C, exit 143, no traceback, and no
    server, sender or render process of the command outlives it."""
    import signal
    import time

    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"))
    demo = subprocess.Popen([sys.executable, "-m", "followup.cli", "demo", "--days", "3"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    log = tmp_path / "data" / "demo" / "demo.log"
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.stat().st_size) and demo.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # until the round is under way: its log has its first line
    assert demo.poll() is None, demo.stderr.read()
    demo.send_signal(signal.SIGTERM)
    _, stderr = demo.communicate(timeout=60)
    assert demo.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.rstrip().endswith("Terminated.") and "Traceback" not in stderr, stderr
    left = subprocess.run(["pgrep", "-g", str(demo.pid)], capture_output=True, text=True).stdout.split()
    assert left == []


def test_the_command_line_starts_without_the_data_stack():
    """`followup --help` and every command's start load none of pandas, pyarrow, SQLAlchemy,
    Prefect or Great Expectations (half a second of imports): each command loads what it uses."""
    heavy = ("pandas", "pyarrow", "numpy", "sqlalchemy", "prefect", "great_expectations", "jinja2")
    code = f"import sys, followup.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
