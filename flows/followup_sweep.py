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
from followup.outcome import SweepSummary
from followup.render_stage import RenderSetup
from followup.store import open_ledger
from followup.store.control import campaigns_with_due
from followup.store.messages import planned_ids
from tasks.rendering import render_planned
from tasks.sending import recover_claims, send_messages

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
    engine = open_ledger(settings.ledger_url)
    summary = SweepSummary()
    recovered = recover_claims(settings)
    summary.recovered_sent, summary.recovered_unknown = recovered["sent"], recovered["unknown"]
    summary.reconciled = recovered["reconciled"]
    setup = RenderSetup.of(settings, templates_dir)
    for campaign in campaigns_with_due(engine, business_now):
        ids = planned_ids(engine, campaign)
        done = render_planned(settings.ledger_url, ids, setup, business_now, settings.render_processes)
        summary.rendered += done["rendered"]
        summary.render_failed += done["failed"]
        report = send_messages(settings, business_now, campaign, email)
        summary.campaigns[campaign] = {k: v for k, v in asdict(report).items() if k in _REPORTED}
    get_run_logger().info("sweep: %s", summary.to_json())
    return summary
