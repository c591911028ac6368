"""The command that explains one person's cadence: timeline."""

from __future__ import annotations

import json
import sys
from datetime import timezone
from typing import Annotated

import typer

from followup.cli.common import (
    app,
    cadence_or_refuse,
    json_option,
    now_option,
    out,
    parse_now,
    refuse,
    settings_or_refuse,
)


@app.command()
def timeline(
    candidate: Annotated[str, typer.Argument(help="The candidate id, as in your ATS export.")],
    now: now_option("that decides what is due and what waits; default: now") = None,
    as_json: json_option("the timeline as JSON (times in UTC)") = False,
) -> None:
    """Explain one person's cadence: every step planned, sent, postponed, cancelled or suppressed,
    their responses, a stop and the suppressions of their address, in time order, each with why.

    Times are shown in the candidate's zone and in UTC. Exit codes: 0 done, 2 unknown candidate.
    """
    from followup.stages.planning import PlanSetup, upcoming
    from followup.stages.timeline import candidate_timeline, local

    moment = parse_now(now)
    settings = settings_or_refuse()
    next_steps = upcoming(PlanSetup.of(settings, cadence_or_refuse(settings)), candidate, moment)
    found = candidate_timeline(
        settings.ledger_url, candidate, moment, default_timezone=settings.timezone, upcoming=next_steps
    )
    if found is None:
        refuse(f"no candidate {candidate!r} in the ledger; import their batch first")
    if as_json:
        sys.stdout.write(json.dumps(found.to_json()) + "\n")
        return
    person, zone = found.candidate, found.zone
    # The name as preview shows it, the address never: the recruiter checks who this is, and an
    # address on a shared screen or in a pasted terminal is one more copy of it.
    out.print(f"{person['candidate_id']}  {person['name']}  ({person['channel']}; times in {zone.key} and UTC)",
              markup=False)  # fmt: skip
    for decision in found.decisions:
        deadline = decision["offer_deadline"]
        out.print(f"  {decision['decision']} for {decision['role']}"
                  + (f", reply by {local(deadline, zone)}" if deadline else ""), markup=False)  # fmt: skip
    if not found.entries:
        out.print("Nothing planned for them yet: `followup run FILE` plans their first step.")
    width = max((len(entry.what) for entry in found.entries), default=0)
    for entry in found.entries:
        about = "/".join(str(part) for part in (entry.step, entry.kind, entry.channel) if part is not None)
        where = f"step {about}" if entry.step is not None else about
        out.print(
            f"{local(entry.at, zone)}  {local(entry.at, timezone.utc)} UTC  {entry.what:<{width}}  "
            + "  ".join(part for part in (where, entry.campaign, entry.reason) if part),
            markup=False,
        )
