"""The command that writes the response report: report."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from followup.cli.common import app, json_option, now_option, out, parse_now, refuse, settings_or_refuse


def _moment(option: str, value: str | None) -> datetime | None:
    """An ISO 8601 date or time (UTC when it gives no offset), or None."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        refuse(f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-11-01 or 2026-11-01T00:00:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


@app.command()
def report(
    since: Annotated[Optional[str], typer.Option("--since", help="Only contacts whose first message went out "
                                                 "from this time (ISO 8601); default: all time.")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Count what was recorded up to this time; "
                                                 "default: --now.")] = None,
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="Only this campaign's messages.")] = None,
    now: now_option("the report is made at; default: now") = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Folder for report.html, the CSV tables and "
                                                    "report.json; default: reports/ in the data dir.",
                                                    file_okay=False)] = None,
    as_json: json_option("the report document") = False,
) -> None:
    """Write the response report: which channels and timings get candidates to respond.

    Rates by channel of first contact, by delay after the decision (business days), by local send
    hour and weekday (in each candidate's own time zone), by follow-up step, by template variant
    and by decision kind, each with its Wilson 95% interval; the funnel (delivered, opened by a
    person, clicked, responded, accepted); time to first response. Channels and variants are
    compared with Fisher's exact test or the two-proportion z-test, each with a plain sentence.
    A best channel and timing is named for each decision kind only when the evidence holds;
    otherwise the report says so, and about how many more contacted candidates would settle it.
    Cells under 30 contacted candidates are flagged, not ranked. Where the timing experiment ran,
    the timing cells use its randomised candidates only.

    Writes report.html (opens offline, charts embedded), CSV tables and report.json.
    """
    moment = parse_now(now)
    start, end = _moment("--since", since), _moment("--until", until) or moment
    if end > moment:
        refuse(f"--until {end.isoformat()} is after --now {moment.isoformat()}: nothing is recorded there yet")
    if start is not None and start >= end:
        refuse(f"--since {start.isoformat()} is not before --until {end.isoformat()}")
    settings = settings_or_refuse()
    from flows.response_report import response_report

    with nullcontext() if as_json else out.status("Reading the ledger and writing the report…", spinner="dots"):
        document, files = response_report(settings, start, end, campaign, out_dir)
    if as_json:
        sys.stdout.write(json.dumps(document) + "\n")
        return
    funnel = document["funnel"]
    if not funnel["contacted"]:
        out.print("No one was contacted in this window.")
    else:
        out.print(f"{funnel['contacted']} contacted, {funnel['delivered']} delivered, {funnel['opened']} opened by a "
                  f"person, {funnel['clicked']} clicked, {funnel['responded']} responded, {funnel['accepted']} "
                  "accepted", markup=False)  # fmt: skip
        table = Table(title="Response rate by channel of first contact", title_justify="left")
        for column in ("channel", "contacted", "responded", "rate", "95% interval", ""):
            table.add_column(column)
        for name, cell in document["by_channel"].items():
            table.add_row(name, str(cell["n"]), str(cell["responses"]), _pct(cell["rate"]),
                          f"{_pct(cell['ci_low'])} to {_pct(cell['ci_high'])}" if cell["n"] else "",
                          f"n < {document['min_n']}: not ranked" if cell["flagged"] else "")  # fmt: skip
        out.print(table, markup=False)
        for recommendation in document["recommendations"]:
            out.print(recommendation["sentence"], markup=False)
    out.print(f"Report: {files['html']}", markup=False)
