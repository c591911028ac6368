"""Commands that bring candidate batches in: import, and the demo round."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import SecretStr
from rich.table import Table

from followup.cli.common import EXIT_DONE, EXIT_REFUSED, JsonOption, app, err, out, settings_or_refuse
from followup.config import Settings
from followup.stages.importing import ImportSummary


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
    out.print(table)
    # Paths on lines of their own, never cut to the table's width: a recruiter copies them.
    out.print(f"Quarantine file: {summary.quarantine_file or '(none: every row passed)'}", markup=False)
    out.print(f"Data docs: {summary.data_docs or '(none)'}", markup=False)


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
        ),
    ],
    mapping: Annotated[
        Optional[Path],
        typer.Option(
            "--mapping",
            help='Your header names for our columns: JSON {"Their Header": "candidate_id", ...} or a two-column CSV.',
            # Checked before Prefect starts: a typo in the path is refused at once.
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import and validate a candidate batch; bad rows go to data/quarantine/<batch>.csv with reasons.

    Exit codes: 0 imported (or already imported), 2 refused (the message says why; nothing stored
    but the record of the refusal), 1 failure.
    """
    settings = settings_or_refuse()
    problem = _not_a_readable_file(file)
    if problem:
        # At once, before Prefect starts, and still as a refusal a script can read (--json).
        from followup.stages.importing import refuse_unreadable

        _finish(refuse_unreadable(settings.ledger_url, file, problem), as_json, "")
    _finish(_run_import(file, mapping, settings), as_json, f"Imported {file.name}")


def _not_a_readable_file(path: Path) -> str | None:
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "it is a directory, not a file"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


@app.command()
def demo(
    as_json: JsonOption = False,
) -> None:
    """Run a whole round on embedded defaults, sending nothing: a sample ATS export imported,
    validated, and every candidate messaged through a local SendGrid-compatible sandbox.

    The demo keeps its own ledger, call sheets and files under <data dir>/demo/ and starts from
    a clean slate each time, so it never touches your real ledger or your SendGrid account.
    """
    from flows.campaign import run_campaign
    from followup.cli.delivery import _print_campaign
    from followup.sandbox import Sandbox, SandboxConfig
    from followup.samples import SAMPLE_NOW, ensure_sample
    from followup.store import close_ledgers

    settings = settings_or_refuse()
    demo_dir = settings.data_dir / "demo"
    close_ledgers()  # a pooled connection would keep the old demo ledger alive past its deletion
    shutil.rmtree(demo_dir, ignore_errors=True)
    sample = ensure_sample(settings.data_dir)
    if not as_json:
        err.print(f"Demo batch: {sample}")
    with Sandbox(SandboxConfig(api_key=_DEMO_KEY)) as sandbox:
        demo_settings = settings.model_copy(
            update={
                "data_dir": demo_dir,
                "database_url": None,
                "transport": "sendgrid",
                "sendgrid_api_key": SecretStr(_DEMO_KEY),
                "sendgrid_api_host": sandbox.url,
                "from_email": settings.from_email or "recruiting@demo.example",
                "from_name": settings.from_name or "Recruiting (demo)",
                "senders": 1,
                "send_rate": None,
            }
        )
        with err.status("Demo round: importing, rendering, sending to the sandbox…", spinner="dots"):
            summary = run_campaign(sample, "demo", None, demo_settings, SAMPLE_NOW)
        accepted = sandbox.stats()["accepted"]
    _print_campaign(summary, as_json)
    if not as_json and summary.status != "refused":
        err.print(f"The sandbox accepted {accepted} emails (nothing left this machine). "
                  f"Demo ledger: {demo_settings.ledger_url}")  # fmt: skip
    raise typer.Exit(summary.exit_code())


# Any key works with the demo's own sandbox; it only has to match.
_DEMO_KEY = "SG.demo"
