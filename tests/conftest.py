"""Shared fixtures: the user's own settings out of reach, one Prefect test harness per session, one
local Prefect server for the `followup` child processes, the ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

# Telemetry off before any test imports Great Expectations or Prefect.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")  # Prefect's client telemetry: no call to the internet
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest
import sqlalchemy as sa

from tests import prefect_server

POSTGRES_URL = os.environ.get("FOLLOWUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# The settings of the tool itself (FOLLOWUP_DATABASE_URL, SENDGRID_API_KEY, ...) belong to whoever
# runs the suite: the tests set what they need. Only the suite's own settings are kept.
USER_SETTING_PREFIXES = ("FOLLOWUP_", "SENDGRID_")
SUITE_SETTINGS = frozenset({"FOLLOWUP_TEST_POSTGRES_URL", "FOLLOWUP_TEST_ARTIFACTS"})


def without_user_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` less every setting of the tool, for this process and for the `followup` processes it starts."""
    return {name: value for name, value in environ.items()
            if name in SUITE_SETTINGS or not name.startswith(USER_SETTING_PREFIXES)}  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def no_user_settings():
    """With FOLLOWUP_DATABASE_URL exported, the suite would import its fake candidates into that
    ledger and pause its campaigns: the user's settings are gone before the first test runs."""
    kept = without_user_settings(os.environ)
    removed = {name: os.environ.pop(name) for name in set(os.environ) - set(kept)}
    yield
    os.environ.update(removed)


class LocalPrefectServer:
    """One local Prefect server for the session's `followup` child processes: each records its
    flow runs there instead of starting (~12 s) and stopping (~2 s) a temporary server of its own.
    Its home and database are its own, in a temporary folder."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="followup-tests-prefect-"))
        port = prefect_server.free_port()
        self.url = f"http://127.0.0.1:{port}/api"
        env = {name: value for name, value in without_user_settings(os.environ).items() if not name.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_LOGGING_LEVEL="WARNING")  # fmt: skip
        self.process = prefect_server.start(self.home, port, env)

    def ready(self) -> str:
        prefect_server.wait_until_up(self.url, self.process, self.home, seconds=180)
        return self.url

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


_LOCAL_SERVER: list[LocalPrefectServer] = []


def pytest_collection_finish(session) -> None:
    """Started as soon as the run is known to need it, not for every session: it sets up its
    database while the first tests run."""
    if session.config.option.collectonly:
        return
    if any("child_env" in getattr(item, "fixturenames", ()) for item in session.items):
        _LOCAL_SERVER.append(LocalPrefectServer())


def pytest_sessionfinish(session) -> None:
    while _LOCAL_SERVER:
        _LOCAL_SERVER.pop().stop()


@pytest.fixture(scope="session")
def local_prefect_api() -> str:
    """The base URL of the session's local Prefect server, once it answers."""
    if not _LOCAL_SERVER:  # asked for by a fixture of a test collected without it
        _LOCAL_SERVER.append(LocalPrefectServer())
    return _LOCAL_SERVER[0].ready()


@pytest.fixture
def child_env(local_prefect_api):
    """The environment of a `followup` child process: this one's, never the user's settings, plus
    `settings`. Its flow runs go to the session's local Prefect server (PREFECT_API_URL)."""

    def build(**settings: str) -> dict[str, str]:
        return {**without_user_settings(os.environ), "PREFECT_API_URL": local_prefect_api, **settings}

    return build


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "drill: a fault drill (tests/drills/): a failure staged against the sandbox")


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness costs seconds to start: once per session, only when a test runs a flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
        _drain_prefect_workers(timeout_s=30)


def _drain_prefect_workers(timeout_s: float) -> None:
    """The harness drains Prefect's log and event workers at its exit with no time limit: a
    session once hung there, every test passed, the machine idle (most likely a worker holding
    events for a server a test had since stopped: scale-out and local-server tests start their
    own). Drained here first, bounded; a drained worker is gone, so the harness's own drain finds
    none. What could not be delivered is said, not waited for."""
    import sys

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        _, pending = service.drain_all(timeout=timeout_s)
        if pending:
            print(f"\n{service.__name__}: {len(pending)} worker(s) not drained within {timeout_s:g} s at the "
                  "session's end (their server is gone)", file=sys.stderr)


def _admin(statement: str) -> None:
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """A fresh, empty ledger for each test, on each backend.

    PostgreSQL gets a scratch schema, dropped afterwards. Never skipped when the server is
    missing: the PostgreSQL path must be proven in CI.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    from followup.store import close_ledgers

    schema = f"followup_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        close_ledgers()
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    request.addfinalizer(drop)
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)
