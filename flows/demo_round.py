"""The demo's hiring round as one flow run: the campaign on the round's batch, then a simulated
clock through the days that follow, jumping from one due time to the next (a sweep at each, as
the 15-minute schedule would run one then), and the response report at the end.

    followup demo

The world (the sandbox's candidates, the receiver, the recruiters) is handed in by the command:
`world.advance(now)` acts out what happens up to `now` before each sweep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from followup.cadence.spec import CadenceSpec
from followup.config import Settings
from followup.stages.summaries import CampaignSummary, SweepSummary
from flows.campaign import run_campaign
from flows.followup_sweep import DIRECT, publish_warm_candidates, sweep_steps
from flows.response_report import response_report

# Past this the clock moves on anyway: replies, calls and meetings come in between due times,
# and a day's sweep plans the nudges whose business days have passed.
MAX_JUMP = timedelta(days=1)
# The sweep's schedule (prefect.yaml: every 15 minutes, on the quarter-hour): the clock stops
# where a scheduled sweep would run, the first one at or after what is due.
MIN_JUMP = timedelta(minutes=15)


@dataclass
class RoundResult:
    campaign: CampaignSummary
    until: datetime
    sweeps: list[SweepSummary] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    report_files: dict[str, str] = field(default_factory=dict)
    flow_run_id: str = ""
    flow_run_name: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # real time each stage took


@flow(name="demo-round", validate_parameters=False)
def demo_round(
    path: Path | str,
    campaign: str,
    settings: Settings,
    start: datetime,
    days: int,
    # Typed loosely: Prefect builds a parameter schema, and a live world cannot be described in one.
    world: Any,
    cadence: CadenceSpec | None = None,
) -> RoundResult:
    """The round from `start` for `days` days of business time."""
    end = start + timedelta(days=days)
    lap = _Lap()
    result = RoundResult(run_campaign(path, campaign, None, settings, start, cadence=cadence), end)
    result.seconds["campaign"] = lap()
    result.flow_run_id, result.flow_run_name = str(flow_run.get_id() or ""), str(flow_run.get_name() or "")
    if result.campaign.status == "refused":
        return result
    now = _next_stop(start, [result.campaign.next_due])
    while now < end:
        world.advance(now)
        # The sweep's own steps, called directly: a flow run of its own for each of a few hundred
        # sweeps would cost Prefect most of a second apiece, and task runs a tenth of one.
        swept = sweep_steps(settings, now, cadence=cadence, steps=DIRECT)
        result.sweeps.append(swept)
        now = _next_stop(now, [swept.next_due, swept.next_step_due])
    world.advance(end)
    result.seconds["follow_ups"] = lap()
    publish_warm_candidates(settings, end)
    result.report, result.report_files = response_report(settings, None, end)
    result.seconds["report"] = lap()
    get_run_logger().info("demo round: %d sweeps, report %s", len(result.sweeps), result.report_files.get("html"))
    return result


def _next_stop(now: datetime, due: list[datetime | None]) -> datetime:
    """Where the clock stops next: the scheduled sweep at or after the earliest due time, at least
    one schedule step and at most a day on."""
    soonest = min((moment for moment in due if moment is not None), default=now + MAX_JUMP)
    return _on_schedule(min(max(soonest, now + MIN_JUMP), now + MAX_JUMP))


def _on_schedule(moment: datetime) -> datetime:
    """The first quarter-hour at or after `moment`."""
    past = timedelta(minutes=moment.minute % 15, seconds=moment.second, microseconds=moment.microsecond)
    return moment if not past else moment - past + MIN_JUMP


class _Lap:
    """Real seconds since the last call (the first: since it was made), to one decimal."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def __call__(self) -> float:
        previous, self.last = self.last, time.monotonic()
        return round(self.last - previous, 1)
