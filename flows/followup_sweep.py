"""The sweep, run on a schedule (every 15 minutes: the send windows decide local hours, not the
cron): settle what dead senders left, forward the replies Inbound Parse brought to the
recruiters, plan every cadence's next step whose wait is over, render
what is planned, send what is due and retry what waited, campaign by campaign (a paused campaign
is skipped). What responses stopped is cancelled in the send stage, before anything is claimed.
Last, the candidates warming up become a Markdown artifact (key "warm-candidates").

    followup sweep [--now T]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from followup.cadence.spec import CadenceSpec
from followup.clock import business_time
from followup.config import Settings
from followup.sending import SendReport
from followup.sending.setup import SendSetup
from followup.stages import rendering
from followup.stages.engagement import EngagementSetup
from followup.stages.planning import NextSteps, PlanSetup
from followup.stages.rendering import RenderSetup
from followup.stages.summaries import SweepSummary
from flows.secret_blocks import run_settings
from tasks.engagement import warm_list
from tasks.rendering import render_campaign
from tasks.sending import (
    due_campaigns,
    forward_replies,
    plan_next_steps,
    recover_claims,
    send_messages,
    waiting_messages,
)

def publish_warm_candidates(settings: Settings, business_now: datetime) -> None:
    """The warm list as a Markdown artifact; one key, so the UI keeps each sweep's list as its history."""
    create_markdown_artifact(key="warm-candidates", markdown=warm_list(EngagementSetup.of(settings), business_now),
                             description="Candidates warming up, warmest first")  # fmt: skip


_REPORTED = ("sent", "failed", "suppressed", "cancelled", "moved", "unknown", "retry_wait", "requests", "paused",
             "pause_reason")


@flow(name="followup-sweep", validate_parameters=False)
def sweep(
    settings: Settings | None = None,
    business_now: datetime | None = None,
    # Typed loosely: Prefect builds a parameter schema, and a Protocol cannot be checked.
    email: Any = None,
    templates_dir: Path | None = None,
    cadence: CadenceSpec | None = None,
) -> SweepSummary:
    """`cadence`: the cadence file's values already read; else FOLLOWUP_CADENCE_FILE's."""
    settings = run_settings(settings)
    business_now = business_time(business_now)
    summary = sweep_steps(settings, business_now, email, templates_dir, cadence)
    publish_warm_candidates(settings, business_now)
    get_run_logger().info("sweep: %s", summary.to_json())
    return summary


@dataclass(frozen=True)
class Steps:
    """What a sweep does, step by step (the tasks' signatures)."""

    recover: Callable[..., dict]
    forward: Callable[..., dict]
    plan: Callable[..., NextSteps]
    due: Callable[..., list[str]]
    render: Callable[..., dict]
    send: Callable[..., SendReport]
    waiting: Callable[..., tuple]


def _render_here(ledger_url: str, campaign: str, setup: RenderSetup, now: datetime, processes: int) -> dict:
    """render_campaign's work for a sweep's few messages, in this process (`processes` unused)."""
    return rendering.render_chunks(ledger_url, rendering.planned(ledger_url, campaign), setup, now)


# Each step a Prefect task run, as the scheduled sweep records them.
AS_TASKS = Steps(recover_claims, forward_replies, plan_next_steps, due_campaigns, render_campaign, send_messages,
                 waiting_messages)  # fmt: skip
# The same steps' functions called directly: for a simulated round (the demo), which sweeps a few
# hundred times in a minute inside a flow run of its own, where a task run for each of a sweep's
# ten steps would cost more than the step.
DIRECT = Steps(recover_claims.fn, forward_replies.fn, plan_next_steps.fn, due_campaigns.fn, _render_here,
               send_messages.fn, waiting_messages.fn)  # fmt: skip


def sweep_steps(
    settings: Settings,
    business_now: datetime,
    email: Any = None,
    templates_dir: Path | None = None,
    cadence: CadenceSpec | None = None,
    steps: Steps = AS_TASKS,
) -> SweepSummary:
    """One sweep's work at `business_now`, without the warm-list artifact."""
    setup = SendSetup.of(settings)
    summary = SweepSummary()
    recovered = steps.recover(setup)
    summary.recovered_sent, summary.recovered_unknown = recovered["sent"], recovered["unknown"]
    summary.reconciled = recovered["reconciled"]
    # First: a recruiter waits for a candidate's answer more urgently than for anything else here.
    summary.forwards = steps.forward(setup, email)
    planned = steps.plan(PlanSetup.of(settings, cadence), business_now)
    summary.next_steps, summary.next_step_due = planned.to_json(), planned.next_step_due
    render_setup = RenderSetup.of(settings, templates_dir)
    for campaign in steps.due(settings.ledger_url, business_now):
        done = steps.render(settings.ledger_url, campaign, render_setup, business_now, settings.render_processes)
        summary.rendered += done["rendered"]
        summary.render_failed += done["failed"]
        report = steps.send(setup, business_now, campaign, email)
        summary.campaigns[campaign] = {k: v for k, v in asdict(report).items() if k in _REPORTED}
    summary.later, summary.next_due = steps.waiting(settings.ledger_url, business_now)
    return summary
