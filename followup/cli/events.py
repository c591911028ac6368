"""`followup events ingest`: SendGrid events from an exported file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from followup.cli.common import EXIT_DONE, JsonOption, app, err, now_option, out, parse_now, refuse, settings_or_refuse

events_app = typer.Typer(help="SendGrid's delivery and engagement events.", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("ingest")
def events_ingest(
    file: Annotated[Path, typer.Argument(help="SendGrid events: its JSON array, or JSON lines (one event per line).")],
    now: now_option("after which no event may be stamped; default: now") = None,
    as_json: JsonOption = False,
) -> None:
    """Store exported SendGrid events as the webhook receiver (`followup serve`) stores them.

    Each event is stored once (by sg_event_id), joined to its message by message_key or by its
    sg_message_id; events of messages this ledger does not know are kept and counted as
    unmatched. Bounces, unsubscribes and spam reports suppress their address; a processed or
    delivered event settles a message of unknown fate. Running the same file again stores
    nothing twice. Exit codes: 0 done, 2 refused (nothing stored), 1 failure.
    """
    from followup.stages.events import IngestRefused, ingest_events

    settings = settings_or_refuse()
    moment = parse_now(now)
    max_bytes = int(settings.max_file_mb * 1_000_000)
    try:
        if err.is_terminal and not as_json:
            with Progress(TextColumn("storing events"), BarColumn(), MofNCompleteColumn(), console=err,
                          transient=True) as bar:  # fmt: skip
                task = bar.add_task("events", total=None)
                summary = ingest_events(file, moment, settings.ledger_url, max_bytes,
                                        lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
        else:
            summary = ingest_events(file, moment, settings.ledger_url, max_bytes)
    except IngestRefused as exc:
        refuse(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
        raise typer.Exit(EXIT_DONE)
    table = Table(title=f"Events from {escape(file.name)}", show_header=False, title_justify="left")
    for label, value in (("events read", summary.events), ("stored", summary.stored),
                         ("already stored", summary.duplicates), ("for messages not in this ledger", summary.unmatched),
                         ("unknown messages settled", summary.settled), ("addresses suppressed", summary.suppressed)):
        table.add_row(label, str(value))  # fmt: skip
    out.print(table)
    raise typer.Exit(EXIT_DONE)
