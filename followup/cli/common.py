"""What every command shares: the Typer app, the consoles, settings, refusals, exit codes and
the options several commands take."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.markup import escape

from followup import logs
from followup.cadence.spec import CadenceSpec
from followup.cli.local_prefect import use_local_server
from followup.config import SecretsUnreadable, Settings, SettingsInvalid, load_settings

app = typer.Typer(
    name="followup",
    help=(
        "The follow-up engine for recruiting ops: import a candidate batch exported from your "
        "applicant tracking system, validate it, write each candidate their message for their "
        "channel (email, voicemail script, in-person invite), send it exactly once at a good "
        "time in their own time zone, and retry what did not go through.\n\n"
        "Settings come from FOLLOWUP_* environment variables (see README); the ledger defaults "
        "to a SQLite file under ./data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Names, cells, paths and template text reach these consoles: none of them may turn into an emoji
# (":x:" is a cell, not a sign), and our own styles are the only markup, with whatever comes from
# a file, a template or a setting escaped where it joins them (or printed with markup=False).
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

EXIT_DONE, EXIT_FAILURE, EXIT_REFUSED = 0, 1, 2


class State:
    settings_file: Path | None = None
    verbose: bool = False


def json_option(what: str = "a JSON summary") -> Any:
    """--json: stdout holds only `what`, so a script can read it (the logs go to stderr)."""
    return Annotated[bool, typer.Option("--json", help=f"Print only {what} on stdout.")]


def now_option(purpose: str = "that decides what is due; default: now") -> Any:
    """--now: the business clock as of which the command acts (see parse_now)."""
    return Annotated[Optional[str], typer.Option("--now", help=f"Business time (ISO 8601) {purpose}.")]


JsonOption = json_option()
NowOption = now_option()
TemplatesOption = Annotated[
    Optional[Path],
    typer.Option(
        "--templates",
        help="Your templates folder; its files override ours by path and render in a sandbox.",
        exists=True,
        file_okay=False,
    ),
]


def quiet_services() -> None:
    """Telemetry off and Prefect's INFO chatter off the user's terminal, unless they asked otherwise;
    flow runs recorded on the local Prefect server when one is running."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's client reports usage to Prefect's servers unless told not to: nothing of ours
    # calls the internet at run time (and its first-run notice would land on the user's terminal).
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")
    # Prefect's temporary server gets 20 s to start by default; a busy machine (a campaign
    # rendering on every core) can need more, and failing there would lose the whole run.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # A local server left running by `followup server start` spares each flow run that start
    # (about 12 s) and stop (about 2 s); without one, or with an API configured, nothing changes.
    use_local_server()


def settings_or_refuse() -> Settings:
    try:
        settings = load_settings(State.settings_file)
        if settings.secret_blocks:
            from flows.secret_blocks import with_secrets  # imports Prefect: only then

            settings = with_secrets(settings, State.settings_file)
    except SecretsUnreadable as exc:  # not the user's input: a service that did not answer
        err.print(f"[red]Cannot read the secrets:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILURE) from None
    except SettingsInvalid as exc:
        err.print("[red]Settings are invalid:[/red]\n" + escape(str(exc)))
        raise typer.Exit(EXIT_REFUSED) from None
    return settings


def cadence_or_refuse(settings: Settings) -> CadenceSpec:
    """The cadence file's rules (FOLLOWUP_CADENCE_FILE, else the shipped one), read before a
    command plans or sends anything; a bad file is refused with its line and the problem."""
    from followup.cadence.file import CadenceFileError, load_cadence

    try:
        return load_cadence(settings.cadence_file)
    except CadenceFileError as exc:
        refuse(str(exc))


def signing_secret_or_refuse(settings: Settings) -> SecretStr:
    """The secret unsubscribe links are signed and checked with; refused when the ledger is
    shared (not SQLite) and FOLLOWUP_SECRET_KEY is unset."""
    from followup.secret_key import MISSING, signing_secret

    try:
        secret = signing_secret(settings)
    except ValueError as exc:  # a key file emptied by hand
        refuse(str(exc))
    if secret is None:
        refuse(MISSING)
    return secret


@app.callback()
def main_options(
    settings_file: Annotated[
        Optional[Path],
        typer.Option("--settings", help="A settings file of FOLLOWUP_* lines; the environment wins over it."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False,
) -> None:
    State.settings_file = settings_file
    State.verbose = verbose
    logs.configure(verbose)
    quiet_services()


def refuse(message: str) -> NoReturn:
    """Refused input: a clear message on stderr, exit code 2, nothing half-done. The message is
    plain text: it names the user's files, candidates and campaigns."""
    err.print(f"[red]Refused:[/red] {escape(message)}")
    raise typer.Exit(EXIT_REFUSED)


def parse_now(value: str | None) -> datetime:
    """--now: the business clock (ISO 8601, UTC when no offset is given); default the real time."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        refuse(f"--now {value!r} is not an ISO 8601 time (e.g. 2026-11-26T09:00:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
