"""Shared fixtures: the user's own settings out of reach, one Prefect test harness per session, the
ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping

# Telemetry off before any test imports Great Expectations or Prefect.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")  # Prefect's client telemetry: no call to the internet
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest
import sqlalchemy as sa

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


@pytest.fixture
def child_env():
    """The environment of a `followup` child process: this one's, never the user's settings, plus `settings`."""

    def build(**settings: str) -> dict[str, str]:
        return {**without_user_settings(os.environ), **settings}

    return build


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "drill: a fault drill (tests/drills/): a failure staged against the sandbox")


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness costs seconds to start: once per session, only when a test runs a flow."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


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
