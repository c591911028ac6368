"""The campaign flow: import, validate, plan, render, send; then the outcome as a table artifact.

    followup run FILE [--campaign NAME] [--now T] [--dry-run]

The campaign's name defaults to the file's name and a digest of its bytes, so running the same
file again continues the same campaign and sends nothing twice.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from followup.clock import business_time
from followup.config import Settings
from followup.sending import SendReport
from followup.sending.setup import SendSetup
from followup.stages.importing import ImportSummary
from followup.stages.overlap import rendering_underway
from followup.cadence.spec import CadenceSpec
from followup.stages.planning import PlanResult, PlanSetup, default_campaign_name
from followup.stages.rendering import RenderSetup
from followup.stages import workers
from followup.stages.summaries import CampaignSummary
from flows.import_batch import import_batch
from flows.secret_blocks import run_settings
from tasks.rendering import in_processes, planned_messages, render_campaign, render_in_background, render_ids
from tasks.sending import (
    campaign_outcome,
    dry_run_outcome,
    plan_messages,
    recover_claims,
    send_messages,
    sending_refusal,
)

_ARTIFACT_CALLS = 1_000  # a table artifact is for reading; the CSV holds the whole sheet


@flow(name="campaign", validate_parameters=False)
def run_campaign(
    path: Path | str,
    campaign: str | None = None,
    mapping_file: Path | str | None = None,
    settings: Settings | None = None,
    business_now: datetime | None = None,
    dry_run: bool = False,
    # Typed loosely: Prefect builds a parameter schema, and a Protocol cannot be checked.
    email: Any = None,
    templates_dir: Path | None = None,
    cadence: CadenceSpec | None = None,
) -> CampaignSummary:
    """`email`: an email transport already made (the demo's sandbox client, tests); otherwise
    the settings choose one, and a run that cannot send is refused before anything is stored.
    `cadence`: the cadence file's values already read (the demo's); else FOLLOWUP_CADENCE_FILE's."""
    settings = run_settings(settings)
    business_now = business_time(business_now)
    plan_setup = PlanSetup.of(settings, cadence)
    if dry_run:
        return _dry_run(Path(path), campaign, mapping_file, settings, business_now, templates_dir, plan_setup)
    setup = SendSetup.of(settings)
    refused = sending_refusal(setup, email)  # refuse a run that could not send, before importing
    if refused:
        return CampaignSummary(campaign=campaign or "", batch=_no_batch(), status="refused", reason=refused)

    try:
        name = campaign or default_campaign_name(Path(path))
    except OSError as exc:
        return CampaignSummary(campaign="", batch=_no_batch(), status="refused", reason=f"cannot read {path}: {exc}")
    if email is None and setup.senders > 1:
        # A big batch renders and sends from worker processes: their server imports what they
        # need, and Great Expectations for the batch's suite, on the other core while this one
        # reads the batch (stages.workers). `followup run` has started it already.
        workers.start_early(validation=True)
    # The import's steps run in this flow run, as its own tasks (.fn), not as a subflow run: a
    # subflow costs a flow run created on the server (0.1 s quiet, 2.3 s measured under a big
    # run's load) and the wait for its heartbeat thread at its end (up to 1 s), before anything
    # is sent.
    batch = import_batch.fn(path, mapping_file, settings)
    summary = CampaignSummary(campaign=name, batch=batch)
    if batch.refused:
        summary.status, summary.reason = "refused", batch.reason
        return summary
    plan = plan_messages(plan_setup, name, batch.batch_id, business_now)
    if plan.refused:
        summary.status, summary.reason = "refused", plan.refused
        return summary
    _count_planned(summary, plan)
    report = _render_and_send(settings, setup, name, RenderSetup.of(settings, templates_dir), business_now, email,
                              summary)  # fmt: skip
    summary.requests = report.requests
    if report.paused:
        summary.status, summary.reason = "paused", report.pause_reason
    summary, calls = campaign_outcome(settings.ledger_url, settings.call_sheet_dir, summary, business_now)
    _publish(summary, calls)
    return summary


def _render_and_send(
    settings: Settings,
    setup: SendSetup,
    name: str,
    render_setup: RenderSetup,
    business_now: datetime,
    email: Any,
    summary: CampaignSummary,
) -> SendReport:
    """Render, then send; a big campaign sends its first messages while the rest are rendered
    (the senders wait for more until rendering ends), so rendering costs the run little time."""
    ids = planned_messages(settings.ledger_url, name).unwrap()
    recover_claims(setup)
    if not in_processes(ids, settings.render_processes):
        _count_rendered(summary, render_ids(settings.ledger_url, ids, render_setup, business_now,
                                            settings.render_processes))  # fmt: skip
        return send_messages(setup, business_now, name, email)
    with rendering_underway() as underway:
        rendering = render_in_background(settings.ledger_url, ids, render_setup, business_now,
                                         settings.render_processes, underway)  # fmt: skip
        report = send_messages(setup, business_now, name, email, underway)
        _count_rendered(summary, rendering.result())
    return report


def _count_planned(summary: CampaignSummary, plan: PlanResult) -> None:
    summary.planned, summary.stopped = plan.planned, plan.stopped
    # A re-import writes only the rows it changes, so the plan stage sees those alone; every other
    # valid row is a decision stored before, whose cadence goes on (or was never planned: its file
    # was imported without a run).
    summary.already_planned = max(plan.already, summary.batch.valid - plan.planned - plan.stopped)
    summary.rerendered = plan.rerendered
    summary.changed = [asdict(change) for change in plan.changed]
    if plan.sent_before_change:
        names = ", ".join(change.candidate_id for change in plan.sent_before_change)
        get_run_logger().warning("decisions changed for candidates who already heard the old one: %s", names)


def _count_rendered(summary: CampaignSummary, done: dict[str, int]) -> None:
    summary.rendered += done["rendered"]
    summary.render_failed += done["failed"]


def _publish(summary: CampaignSummary, calls: list[dict]) -> None:
    """The outcome as a Prefect table artifact, under a key per campaign (its history in the UI)."""
    key = "campaign-" + (re.sub(r"[^a-z0-9]+", "-", summary.campaign.lower()).strip("-") or "unnamed")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    create_table_artifact(
        key=key[:100],
        table=summary.table(),
        description=f"Campaign **{summary.campaign}** ({summary.status}): {counts or 'no messages'}.",
    )
    if calls:
        create_table_artifact(
            key=f"call-sheet-{key.removeprefix('campaign-')}"[:100],
            table=calls[:_ARTIFACT_CALLS],
            description=f"Voicemails to leave for **{summary.campaign}**"
            + (f" (the first {_ARTIFACT_CALLS} of {len(calls)})" if len(calls) > _ARTIFACT_CALLS else "")
            + ": " + ", ".join(summary.call_sheets),
        )
    get_run_logger().info("campaign %s: %s", summary.campaign, counts)


def _no_batch() -> ImportSummary:
    return ImportSummary(batch_id="", status="not_read")


def _dry_run(
    path: Path,
    campaign: str | None,
    mapping_file: Path | str | None,
    settings: Settings,
    business_now: datetime,
    templates_dir: Path | None,
    plan_setup: PlanSetup,
) -> CampaignSummary:
    """Everything up to sending, in a scratch ledger that is thrown away: the counts and samples
    are exactly what a real run would send, less what the real ledger shows was sent already."""
    with tempfile.TemporaryDirectory(prefix="followup-dry-run-") as scratch:
        scratch_settings = settings.model_copy(update={"database_url": f"sqlite:///{Path(scratch) / 'dry-run.db'}"})
        name = campaign or default_campaign_name(path)
        batch = import_batch.fn(path, mapping_file, scratch_settings)
        summary = CampaignSummary(campaign=name, batch=batch, status="dry_run")
        if batch.refused:
            summary.status, summary.reason = "refused", batch.reason
            return summary
        plan = plan_messages(replace(plan_setup, ledger_url=scratch_settings.ledger_url), name, batch.batch_id,
                             business_now)  # fmt: skip
        summary.planned = plan.planned
        _count_rendered(summary, render_campaign(
            scratch_settings.ledger_url, name, RenderSetup.of(settings, templates_dir), business_now,
            settings.render_processes,
        ))  # fmt: skip
        return dry_run_outcome(settings.ledger_url, scratch_settings.ledger_url, summary)
