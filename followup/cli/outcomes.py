"""The command that records what no webhook brings: outcomes import."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from followup.cli.common import (
    EXIT_DONE, EXIT_REFUSED, JsonOption, app, err, now_option, out, parse_now, settings_or_refuse,
)  # fmt: skip

outcomes_app = typer.Typer(
    help="Record what no webhook brings: call results, meetings held or missed, replies read in your own inbox.",
    no_args_is_help=True,
)
app.add_typer(outcomes_app, name="outcomes")


@outcomes_app.command("import")
def outcomes_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or XLSX with columns candidate_id, outcome, at, note, and optionally channel and message_key.",
        ),
    ],
    now: now_option("as of which an outcome's time may not be in the future; default: now") = None,
    as_json: JsonOption = False,
) -> None:
    """Record the outcomes in a CSV or XLSX file for candidates already written to.

    Outcomes: accepted, declined, replied, question, opt_out, called_back, no_answer, wrong_number,
    attended, no_show, out_of_office, auto_reply. Bad rows go to
    data/quarantine/outcomes-<file>-<digest>.csv with reasons; an outcome recorded before is not
    recorded again. Exit codes: 0 done (also when nothing was new), 2 refused (the message says
    why; nothing recorded), 1 failure.
    """
    from followup.stages.outcomes import OutcomeSetup, import_outcomes

    settings = settings_or_refuse()
    moment = parse_now(now)
    # In this process, without Prefect: a file is a call sheet's worth of rows, recorded in well under
    # a second, and Prefect's temporary server would take several seconds to start.
    summary = import_outcomes(file, moment, OutcomeSetup.of(settings))
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
    if summary.refused:
        err.print(f"[bold red]Refused:[/bold red] {escape(summary.reason or '')}")
        if summary.quarantine_file:
            err.print(f"The rows and their problems: {summary.quarantine_file}", markup=False)
        raise typer.Exit(EXIT_REFUSED)
    if not as_json:
        table = Table(title=f"Outcomes from {file.name}", show_header=False, title_justify="left")
        table.add_row("rows read", str(summary.rows))
        table.add_row("recorded", str(summary.recorded))
        table.add_row("already recorded", str(summary.duplicates))
        table.add_row("quarantined", str(summary.quarantined))
        out.print(table)
        # On a line of its own, never cut to the table's width: a recruiter copies it.
        out.print(f"Quarantine file: {summary.quarantine_file or '(none: every row passed)'}", markup=False)
    raise typer.Exit(EXIT_DONE)
