"""The sweep, run on a schedule: settle what dead senders left, render what is planned, send
what is due and retry what waited, campaign by campaign (a paused campaign is skipped).

    followup sweep [--now T]

Cadence planning (the follow-up steps) joins it in a later stage.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from followup.config import Settings, load_settings
from followup.sending.setup import SendSetup
from followup.stages.rendering import RenderSetup
from followup.stages.summaries import SweepSummary
from tasks.rendering import render_campaign
from tasks.sending import due_campaigns, recover_claims, send_messages

_REPORTED = ("sent", "failed", "suppressed", "unknown", "retry_wait", "requests", "paused", "pause_reason")


@flow(name="followup-sweep", validate_parameters=False)
def sweep(
    settings: Settings | None = None,
    business_now: datetime | None = None,
    # Typed loosely: Prefect builds a parameter schema, and a Protocol cannot be checked.
    email: Any = None,
    templates_dir: Path | None = None,
) -> SweepSummary:
    settings = settings or load_settings()
    business_now = business_now or datetime.now(timezone.utc)
    setup = SendSetup.of(settings)
    summary = SweepSummary()
    recovered = recover_claims(setup)
    summary.recovered_sent, summary.recovered_unknown = recovered["sent"], recovered["unknown"]
    summary.reconciled = recovered["reconciled"]
    render_setup = RenderSetup.of(settings, templates_dir)
    for campaign in due_campaigns(settings.ledger_url, business_now):
        done = render_campaign(settings.ledger_url, campaign, render_setup, business_now, settings.render_processes)
        summary.rendered += done["rendered"]
        summary.render_failed += done["failed"]
        report = send_messages(setup, business_now, campaign, email)
        summary.campaigns[campaign] = {k: v for k, v in asdict(report).items() if k in _REPORTED}
    get_run_logger().info("sweep: %s", summary.to_json())
    return summary
