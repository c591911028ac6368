"""`followup demo`: a whole hiring round played on this machine, with nothing sent anywhere.

A generated round (2,000 candidates by default, in many countries and time zones, on every
channel, offers and rejections, a few bad rows, a timing experiment on 30% of them) goes through
the campaign flow to a local SendGrid-compatible sandbox; then a simulated clock moves through
two weeks, from one due time to the next, with a sweep at each: nudges go out, candidates open,
click, bounce, reply and go out of office (the sandbox acts them out), recruiters record their
calls and meetings, and at the end the response report is written.
"""

from __future__ import annotations

import json
import shutil
import sys
import warnings
from dataclasses import replace
from datetime import datetime
from typing import Annotated

import typer

from followup import logs
from followup.cli.common import JsonOption, State, app, cadence_or_refuse, err, settings_or_refuse
from followup.cli.demo.progress import RoundProgress

DEMO_EXPERIMENT_SHARE = 0.3
DEMO_CAMPAIGN = "demo-round"
DEMO_SEND_CONCURRENCY = 32


@app.command()
def demo(
    candidates: Annotated[int, typer.Option("--candidates", min=1, max=100_000,
                                            help="How many candidates the round has.")] = 2000,
    days: Annotated[int, typer.Option("--days", min=1, max=60, help="Days of business time the round plays.")] = 14,
    seed: Annotated[int, typer.Option("--seed", help="The round's seed: the same seed plays the same round.")] = 7,
    as_json: JsonOption = False,
) -> None:
    """Play a whole hiring round on this machine, with no keys and no servers, sending nothing.

    It generates a round of candidates (a realistic ATS export with a few bad rows), imports and
    validates it, and runs the campaign flow against a SendGrid-compatible sandbox it starts
    here. Then a simulated clock moves through the next days, with a sweep at each due time:
    nudges go out in each candidate's own send window, the sandbox's candidates open, click,
    bounce, reply and go out of office, recruiters record their calls and meetings, and each
    answer stops that candidate's nudges. At the end it writes the response report and prints
    what happened: who responded and accepted, who is warming up, and which channel and timing
    worked, with their intervals.

    Everything it writes is under <data dir>/demo/, started afresh on each run: the ledger
    (every message, event and response of the round), the batch, the quarantine file, the call
    sheets, the outcome files and the report. It never touches your own ledger
    (FOLLOWUP_DATABASE_URL) or your SendGrid account.
    """
    settings = settings_or_refuse()
    cadence = cadence_or_refuse(settings)
    from flows.demo_round import demo_round
    from followup.cli.demo.summary import LOG_NAME, print_round, round_json
    from followup.cli.demo.world import DemoWorld
    from followup.samples import SAMPLE_NOW, generate_batch, write_batch
    from followup.store import close_ledgers
    from followup.validation import prepare_in_background

    prepare_in_background()  # Great Expectations loads while the batch is written and Prefect's server starts

    # The timing experiment runs on a share of the candidates, so the report has arms to compare.
    cadence = replace(cadence, experiment=replace(cadence.experiment, share=DEMO_EXPERIMENT_SHARE))
    demo_dir = settings.data_dir / "demo"
    close_ledgers()  # a pooled connection would keep the old demo ledger alive past its deletion
    shutil.rmtree(demo_dir, ignore_errors=True)
    if not State.verbose:  # the terminal shows the bars and the summary; the narrative is kept here
        logs.to_file(demo_dir / LOG_NAME)
    start: datetime = SAMPLE_NOW
    batch = write_batch(generate_batch(candidates, seed=seed, bad_share=0.01, now=start, ats_headers=True),
                        demo_dir / "round.csv")  # fmt: skip
    demo_settings = settings.model_copy(update={
        "data_dir": demo_dir,
        "database_url": None,
        "from_email": settings.from_email or "recruiting@demo.example",
        "from_name": settings.from_name or "Recruiting (demo)",
        "senders": 1,
        "send_rate": None,
        "daily_cap": None,
        # A sweep starts a thread for each request it may have in flight: the round's few hundred
        # sweeps send a handful each, and 32 at 50 ms still send 600 a second.
        "send_concurrency": min(settings.send_concurrency, DEMO_SEND_CONCURRENCY),
    })  # fmt: skip
    progress = RoundProgress(err, start, days, enabled=not as_json)
    # The round's own output is the summary: a library's deprecation notice is not for this user.
    with warnings.catch_warnings(), progress:
        warnings.simplefilter("ignore")
        with DemoWorld(demo_settings, seed=seed, on_advance=progress.advanced) as world:
            result = demo_round(batch, DEMO_CAMPAIGN, world.settings, start, days, world, cadence=cadence)
            stats = world.stats()
        progress.done()
    if as_json:
        sys.stdout.write(json.dumps(round_json(result, world, stats, batch), default=str) + "\n")
    else:
        print_round(result, world, stats, batch)
    raise typer.Exit(2 if result.campaign.status == "refused" else 0)
