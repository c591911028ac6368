"""`followup`: the command line, and the composition root.

This is the one core module that reaches up into flows/; it imports them inside the commands
that run them, so `followup --help` stays fast and never starts Prefect.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from followup import logs
from followup.config import Settings, load_settings
from followup.intake import ImportSummary

app = typer.Typer(
    name="followup",
    help=(
        "The follow-up engine for recruiting ops: import a candidate batch exported from your "
        "applicant tracking system, validate it, and (as the project grows) message every "
        "candidate on the right channel at the right time, follow up, and report what works.\n\n"
        "Settings come from FOLLOWUP_* environment variables (see README); the ledger defaults "
        "to a SQLite file under ./data."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_DONE, EXIT_FAILURE, EXIT_REFUSED = 0, 1, 2


class State:
    settings_file: Path | None = None


def _quiet_services() -> None:
    """Telemetry off and Prefect's INFO chatter off the user's terminal, unless they asked otherwise."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "WARNING")


def _settings() -> Settings:
    try:
        return load_settings(State.settings_file)
    except Exception as exc:  # pydantic's message names the variable and the bad value
        err.print(f"[red]Settings are invalid:[/red] {exc}")
        raise typer.Exit(EXIT_REFUSED) from None


@app.callback()
def main_options(
    settings_file: Annotated[
        Optional[Path],
        typer.Option("--settings", help="A settings file of FOLLOWUP_* lines; the environment wins over it."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging on stderr.")] = False,
) -> None:
    State.settings_file = settings_file
    logs.configure(verbose)
    _quiet_services()


def _run_import(path: Path, mapping: Path | None, settings: Settings) -> ImportSummary:
    from flows.import_batch import import_batch

    with err.status(f"Importing {path.name}: reading, validating, storing…", spinner="dots"):
        return import_batch(path, mapping, settings)


def _print_summary(summary: ImportSummary, title: str) -> None:
    if summary.refused:
        err.print(f"[bold red]Refused:[/bold red] {summary.reason}")
        if summary.quarantine_file:
            err.print(f"The rows and their problems: {summary.quarantine_file}")
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_row("batch", summary.batch_id)
    table.add_row("status", summary.status.replace("_", " "))
    table.add_row("rows read", str(summary.rows))
    table.add_row("valid", str(summary.valid))
    table.add_row("quarantined", str(summary.quarantined))
    if summary.status == "imported":
        table.add_row("new candidates", str(summary.new_candidates))
        table.add_row("updated candidates", f"{summary.updated_candidates} ({summary.changes} field changes)")
    table.add_row("quarantine file", summary.quarantine_file or "(none: every row passed)")
    table.add_row("data docs", summary.data_docs or "(none)")
    out.print(table)


def _finish(summary: ImportSummary, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
        if summary.refused:
            err.print(f"Refused: {summary.reason}")
    else:
        _print_summary(summary, title)
    raise typer.Exit(EXIT_REFUSED if summary.refused else EXIT_DONE)


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="The batch: a CSV (any common encoding and delimiter) or XLSX export from your ATS.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    mapping: Annotated[
        Optional[Path],
        typer.Option(
            "--mapping",
            help='Your header names for our columns: JSON {"Their Header": "candidate_id", ...} or a two-column CSV.',
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON summary on stdout.")] = False,
) -> None:
    """Import and validate a candidate batch; bad rows go to data/quarantine/<batch>.csv with reasons.

    Exit codes: 0 imported (or already imported), 2 refused (the message says why; nothing stored
    but the record of the refusal), 1 failure.
    """
    settings = _settings()
    _finish(_run_import(file, mapping, settings), as_json, f"Imported {file.name}")


@app.command()
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON summary on stdout.")] = False,
) -> None:
    """Run a whole round on embedded defaults: a sample ATS export, imported and validated.

    The demo keeps its own ledger and files under <data dir>/demo/ and starts from a clean slate
    each time, so it never touches your real ledger.
    """
    from followup.samples import ensure_sample

    settings = _settings()
    demo_dir = settings.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    demo_settings = settings.model_copy(update={"data_dir": demo_dir, "database_url": None})
    sample = ensure_sample(settings.data_dir)
    if not as_json:
        err.print(f"Demo batch: {sample}")
    summary = _run_import(sample, None, demo_settings)
    if not as_json and not summary.refused:
        err.print(f"Demo ledger: {demo_settings.ledger_url}")
    _finish(summary, as_json, "Demo round: import and validation")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
