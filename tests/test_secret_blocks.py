"""Secrets kept in Prefect Secret blocks (FOLLOWUP_SECRET_BLOCKS): a worker without them in its
environment reads them from the Prefect API its flows use, and never shows them."""

from __future__ import annotations

import json

import pytest

from flows.secret_blocks import with_secrets
from followup.config import SettingsInvalid, load_settings
from followup.samples import SAMPLE_NOW, ensure_sample
from followup.sandbox import Sandbox, SandboxConfig
from tests.test_cli_process import followup

KEY = "SG.from-a-secret-block"
TOKEN = "inbound-token-from-a-block-0123456789"


@pytest.fixture
def prefect_api(local_prefect_api):
    """This process's Prefect client pointed at the session's local server, as a worker's is."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: local_prefect_api}):
        yield local_prefect_api


@pytest.fixture
def blocks(prefect_api):
    """Saves Secret blocks on that server; each is deleted after the test."""
    from prefect.blocks.system import Secret

    saved: list[str] = []

    def save(name: str, value: str) -> None:
        Secret(value=value).save(name, overwrite=True)
        saved.append(name)

    yield save
    for name in saved:
        Secret.delete(name)


def test_a_run_without_the_key_in_its_environment_sends_with_the_blocks_key(tmp_path, child_env, blocks):
    blocks("sendgrid-api-key", KEY)
    sample = ensure_sample(tmp_path / "data")
    with Sandbox(SandboxConfig(api_key=KEY)) as sandbox:  # it refuses any other key
        env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), FOLLOWUP_TRANSPORT="sendgrid",
                        SENDGRID_API_HOST=sandbox.url, FOLLOWUP_FROM_EMAIL="jobs@acme.example",
                        FOLLOWUP_SECRET_BLOCKS="true")  # fmt: skip
        done = followup("run", str(sample), "--now", SAMPLE_NOW.isoformat(), "--json", env=env)
        accepted = sandbox.stats()["accepted"]
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    # The voicemails go onto call sheets; every email went to the sandbox, with the block's key.
    assert accepted > 0 and summary["counts"]["sent"] > accepted and "failed" not in summary["counts"]
    assert KEY not in done.stdout + done.stderr


def test_without_the_setting_no_block_is_read_and_a_run_is_refused(tmp_path, child_env, blocks):
    blocks("sendgrid-api-key", KEY)
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), FOLLOWUP_FROM_EMAIL="jobs@acme.example")
    done = followup("run", str(ensure_sample(tmp_path / "data")), "--json", env=env)
    assert done.returncode == 2 and "SENDGRID_API_KEY" in done.stderr, done.stderr


def test_the_environment_wins_and_a_missing_block_leaves_its_setting_unset(blocks, monkeypatch):
    blocks("sendgrid-api-key", KEY)
    blocks("followup-inbound-token", TOKEN)
    monkeypatch.setenv("FOLLOWUP_SECRET_BLOCKS", "true")
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.from-the-environment")
    settings = with_secrets(load_settings())
    assert settings.sendgrid_api_key.get_secret_value() == "SG.from-the-environment"
    assert settings.inbound_token.get_secret_value() == TOKEN
    assert settings.smtp_password is None and settings.database_url is None  # no such blocks


def test_a_block_is_validated_as_the_environment_would_be(blocks, monkeypatch):
    blocks("followup-inbound-token", "short-block-value")
    monkeypatch.setenv("FOLLOWUP_SECRET_BLOCKS", "true")
    with pytest.raises(SettingsInvalid, match="FOLLOWUP_INBOUND_TOKEN: must be at least 24 URL-safe") as refused:
        with_secrets(load_settings())
    assert "short-block-value" not in str(refused.value)


def test_a_prefect_api_that_does_not_answer_is_said_and_nothing_runs(tmp_path, child_env):
    env = child_env(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), FOLLOWUP_SECRET_BLOCKS="true",
                    PREFECT_API_URL="http://127.0.0.1:9/api")  # fmt: skip
    done = followup("campaigns", env=env)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Cannot read the secrets: FOLLOWUP_SECRET_BLOCKS is on, but the Secret block")
    assert "http://127.0.0.1:9/api" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_a_flow_run_given_no_settings_as_a_worker_starts_it_reads_the_blocks(tmp_path, blocks, monkeypatch):
    from flows.import_batch import import_batch

    ledger = tmp_path / "named-by-a-block.db"
    blocks("followup-database-url", f"sqlite:///{ledger}")
    monkeypatch.setenv("FOLLOWUP_SECRET_BLOCKS", "true")
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path / "data"))
    summary = import_batch(ensure_sample(tmp_path / "sample"))
    assert summary.status == "imported" and summary.valid > 0
    assert ledger.is_file() and not (tmp_path / "data" / "followup.db").exists()
