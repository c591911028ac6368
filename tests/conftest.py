"""Shared fixtures: one Prefect test harness per session, the ledger on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid

# Telemetry off before any test imports Great Expectations or Prefect.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("FOLLOWUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
