"""Settings from the environment or a file, and what the logs may say about candidates."""

from __future__ import annotations

import logging
import re

import pytest
from typer.testing import CliRunner

from followup.cli import app
from followup.config import SettingsInvalid, load_settings
from followup.logs import MaskEmails, mask_email


def test_defaults_run_with_no_keys_or_servers(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("FOLLOWUP_DATA_DIR", "FOLLOWUP_DATABASE_URL", "FOLLOWUP_MAX_BAD_SHARE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.ledger_url == f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    assert settings.max_bad_share == 0.20
    assert settings.quarantine_dir == tmp_path / "data" / "quarantine"


def test_a_settings_file_is_read_and_the_environment_wins(monkeypatch, tmp_path):
    path = tmp_path / "followup.env"
    path.write_text("FOLLOWUP_MAX_BAD_SHARE=0.05\nFOLLOWUP_COUNTRY=gb\nFOLLOWUP_DATA_DIR=/srv/followup\n", encoding="utf-8")
    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    settings = load_settings(path)
    assert settings.max_bad_share == 0.05
    assert settings.country == "GB"
    assert settings.data_dir == tmp_path


def test_an_impossible_share_is_refused(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_MAX_BAD_SHARE", "1.5")
    with pytest.raises(SettingsInvalid, match=re.escape("FOLLOWUP_MAX_BAD_SHARE='1.5': Input should be less than")):
        load_settings()


@pytest.mark.parametrize("name, value, words", [
    ("FOLLOWUP_LOCALE", "klingon", "is not a locale"),
    ("FOLLOWUP_TIMEZONE", "Mars/Olympus", "is not an IANA time zone"),
    ("FOLLOWUP_UNSUBSCRIBE_URL", "jobs.example.com/unsubscribe", "must be an http(s) URL"),
])  # fmt: skip
def test_a_company_setting_the_renderer_could_not_use_is_refused_up_front(monkeypatch, name, value, words):
    """Not a silent fallback to English or UTC, nor a failure in every message later."""
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsInvalid, match=re.escape(f"{name}={value!r}: ") + ".*" + re.escape(words)):
        load_settings()


def test_invalid_settings_are_named_as_variables_one_a_line_and_a_secret_is_never_repeated(tmp_path):
    token = "short-but-secret-token"
    env = {"FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "FOLLOWUP_INBOUND_TOKEN": token, "FOLLOWUP_SENDERS": "0"}
    result = CliRunner().invoke(app, ["sweep"], env=env, catch_exceptions=False)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        "FOLLOWUP_INBOUND_TOKEN: must be at least 24 URL-safe characters (letters, digits, - and _), e.g. the "
        "output of `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`",
        "FOLLOWUP_SENDERS='0': Input should be greater than or equal to 1",
    ]
    assert token not in result.output and "pydantic" not in result.output
    assert not (tmp_path / "data").exists()


def test_a_setting_read_by_its_own_name_is_named_so_and_only_a_secret_hides_its_value():
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(SENDGRID_API_KEY=5, SENDGRID_API_HOST=7)
    assert str(refused.value).splitlines() == [
        "SENDGRID_API_KEY: Input should be a valid string", "SENDGRID_API_HOST=7: Input should be a valid string"]


def test_company_settings_become_the_renderers_defaults(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_LOCALE", "pt-BR")
    monkeypatch.setenv("FOLLOWUP_OFFICE", "1 Sample Street")
    assert load_settings().company_defaults() == {"locale": "pt-BR", "office": "1 Sample Street"}


def test_emails_are_masked_at_info_and_kept_at_debug():
    assert mask_email("sent to maria.lopez@example.com and bo@x.org") == "sent to m***@e*** and b***@x***"
    info = logging.LogRecord("followup", logging.INFO, __file__, 1, "offer to %s", ("maria.lopez@example.com",), None)
    debug = logging.LogRecord("followup", logging.DEBUG, __file__, 1, "offer to %s", ("maria.lopez@example.com",), None)
    MaskEmails().filter(info)
    MaskEmails().filter(debug)
    assert info.getMessage() == "offer to m***@e***"
    assert debug.getMessage() == "offer to maria.lopez@example.com"
