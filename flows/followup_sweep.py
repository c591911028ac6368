"""The sweep, run on a schedule (every 15 minutes: the send windows decide local hours, not the
cron): settle what dead senders left, forward the replies Inbound Parse brought to the
recruiters, plan every cadence's next step whose wait is over, render
what is planned, send what is due and retry what waited, campaign by campaign (a paused campaign
is skipped). What responses stopped is cancelled in the send stage, before anything is claimed.
Last, the candidates warming up become a Markdown artifact (key "warm-candidates").

    followup sweep [--now T]
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from followup.cadence.spec import CadenceSpec
from followup.clock import business_time
from followup.config import Settings, load_settings
from followup.sending.setup import SendSetup
from followup.stages.engagement import EngagementSetup
from followup.stages.planning import PlanSetup
from followup.stages.rendering import RenderSetup
from followup.stages.summaries import SweepSummary
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
    publish_warm_list: bool = True,
) -> SweepSummary:
    """`cadence`: the cadence file's values already read (the demo's); else FOLLOWUP_CADENCE_FILE's.
    `publish_warm_list`: False leaves out the warm-list artifact (the demo's round, which sweeps
    hundreds of times in a minute, publishes one at its end)."""
    settings = settings or load_settings()
    business_now = business_time(business_now)
    setup = SendSetup.of(settings)
    summary = SweepSummary()
    recovered = recover_claims(setup)
    summary.recovered_sent, summary.recovered_unknown = recovered["sent"], recovered["unknown"]
    summary.reconciled = recovered["reconciled"]
    # First: a recruiter waits for a candidate's answer more urgently than for anything else here.
    summary.forwards = forward_replies(setup, email)
    steps = plan_next_steps(PlanSetup.of(settings, cadence), business_now)
    summary.next_steps, summary.next_step_due = steps.to_json(), steps.next_step_due
    render_setup = RenderSetup.of(settings, templates_dir)
    for campaign in due_campaigns(settings.ledger_url, business_now):
        done = render_campaign(settings.ledger_url, campaign, render_setup, business_now, settings.render_processes)
        summary.rendered += done["rendered"]
        summary.render_failed += done["failed"]
        report = send_messages(setup, business_now, campaign, email)
        summary.campaigns[campaign] = {k: v for k, v in asdict(report).items() if k in _REPORTED}
    summary.later, summary.next_due = waiting_messages(settings.ledger_url, business_now)
    if publish_warm_list:
        publish_warm_candidates(settings, business_now)
    get_run_logger().info("sweep: %s", summary.to_json())
    return summary
