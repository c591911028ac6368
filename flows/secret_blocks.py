"""The settings with their secrets from Prefect Secret blocks (FOLLOWUP_SECRET_BLOCKS=true), for a
deployment that keeps them on its Prefect server or Cloud workspace rather than in each worker's
environment:

    from prefect.blocks.system import Secret
    Secret(value="SG.…").save("sendgrid-api-key")

Each secret the environment (or the settings file) leaves unset is read from the block named for
it below; one the environment sets wins, so a single machine can override a value. A block that
does not exist leaves its setting unset, as an unset variable would. Here, beside the flows, as it
asks Prefect's API: the core reads its settings from the environment alone.
"""

from __future__ import annotations

from pathlib import Path

from prefect.blocks.system import Secret
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from pydantic import AliasChoices, SecretStr

from followup.config import SecretsUnreadable, Settings, load_settings

# Setting -> block name (a Prefect block name holds lowercase letters, digits and dashes).
BLOCK_NAMES = {
    "sendgrid_api_key": "sendgrid-api-key",
    "secret_key": "followup-secret-key",
    "inbound_token": "followup-inbound-token",
    "smtp_password": "followup-smtp-password",
    "database_url": "followup-database-url",
}


def run_settings(settings: Settings | None) -> Settings:
    """A flow's settings: those it was given (the CLI's, a test's), else what a worker's run reads
    from its environment, with the secrets from their blocks."""
    return settings or with_secrets(load_settings())


def with_secrets(settings: Settings, settings_file: Path | None = None) -> Settings:
    """`settings` (as load_settings read them, from `settings_file` if any), and with
    FOLLOWUP_SECRET_BLOCKS the blocks of the secrets still unset, validated as if the environment
    had set them (an inbound token too short is refused alike)."""
    if not settings.secret_blocks:
        return settings
    found = {}
    for setting, name in BLOCK_NAMES.items():
        if getattr(settings, setting) is None and (value := _block_value(name)) is not None:
            found[_init_name(setting)] = value
    if not found:
        return settings
    return load_settings(settings_file, **found)


def _block_value(name: str) -> str | None:
    try:
        block = Secret.load(name)
    except ValueError as exc:
        if isinstance(exc.__cause__, ObjectNotFound):
            return None
        raise
    except Exception as exc:  # the API is down or refuses: say where, not a client traceback
        raise SecretsUnreadable(
            f"FOLLOWUP_SECRET_BLOCKS is on, but the Secret block {name!r} could not be read from "
            f"{PREFECT_API_URL.value() or 'Prefect'}: {type(exc).__name__}: {exc}"
        ) from None
    value = block.get()
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def _init_name(setting: str) -> str:
    """The name Settings(...) takes a field by: its alias when it has one (SENDGRID_API_KEY)."""
    alias = Settings.model_fields[setting].validation_alias
    return alias.choices[0] if isinstance(alias, AliasChoices) else setting
