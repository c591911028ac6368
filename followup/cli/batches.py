"""The command that brings candidate batches in: import."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from followup.cli.common import EXIT_DONE, EXIT_REFUSED, JsonOption, app, err, out, settings_or_refuse
from followup.config import Settings

if TYPE_CHECKING:  # the stage imports pandas and pyarrow: not for `followup --help` or a sweep
    from followup.stages.importing import ImportSummary


def _run_import(path: Path, mapping: Path | None, settings: Settings) -> ImportSummary:
    from flows.import_batch import import_batch

    # A spinner reads a str as markup: the file's name goes in as plain Text.
    with err.status(Text(f"Importing {path.name}: reading, validating, storing…"), spinner="dots"):
        return import_batch(path, mapping, settings)


def _print_summary(summary: ImportSummary, title: str) -> None:
    if summary.refused:
        err.print(f"[bold red]Refused:[/bold red] {escape(str(summary.reason))}")
        if summary.quarantine_file:
            err.print(f"The rows and their problems: {summary.quarantine_file}", markup=False)
        return
    table = Table(title=escape(title), show_header=False, title_justify="left")
    table.add_row("batch", Text(summary.batch_id))
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
            err.print(f"Refused: {summary.reason}", markup=False)
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
