"""The command that lists who is warming up: candidates."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from followup.cli.common import app, json_option, now_option, out, parse_now, settings_or_refuse


@app.command()
def candidates(
    warm: Annotated[bool, typer.Option("--warm", help="Only those warming up or warmer (no cold ones).")] = False,
    now: now_option("as of which events and responses count; default: now") = None,
    as_json: json_option("the list as JSON (times in UTC)") = False,
) -> None:
    """List the candidates written to, warmest first, each with the evidence and since when.

    States: responded (any answer; a question nobody has answered yet heads the list as
    "responded: question, needs an answer"), warm (a click, or human opens on
    FOLLOWUP_WARM_OPEN_DAYS different days), warming (one human open), cold. An open counts only
    when it looks human: not flagged as Apple Mail Privacy Protection's, not within
    FOLLOWUP_MACHINE_OPEN_SECONDS of delivery, not from a known image proxy. Names are shown,
    addresses never.
    """
    from followup.stages.engagement import EngagementSetup, candidate_engagement

    moment = parse_now(now)
    listed = candidate_engagement(EngagementSetup.of(settings_or_refuse()), moment, warm_only=warm)
    if as_json:
        sys.stdout.write(json.dumps({"now": moment.isoformat(), "candidates": [row.to_json() for row in listed]}) + "\n")
        return
    if not listed:
        out.print("Nobody is warming up yet." if warm else "Nobody has been written to yet.")
        return
    table = Table(title=f"Candidates, warmest first ({moment:%Y-%m-%d %H:%M} UTC)", title_justify="left")
    for column in ("candidate", "name", "state", "since (UTC)", "evidence"):
        table.add_column(column)
    for row in listed:
        state = row.engagement
        table.add_row(state.candidate_id, row.name, state.label,
                      f"{state.since:%Y-%m-%d %H:%M}" if state.since else "", "; ".join(state.evidence))  # fmt: skip
    out.print(table, markup=False)
