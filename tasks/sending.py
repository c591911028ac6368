"""Plan, send and report tasks: thin Prefect tasks over followup.stages.

The ledger, not Prefect's cache, decides what is left to do, so a task retry or a re-run of
the flow never plans or sends anything twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup.sending import SendReport
from followup.sending.setup import SendSetup
from followup.stages import planning, replies, sending, summaries
from followup.stages.planning import NextSteps, PlanResult, PlanSetup
from followup.stages.summaries import CampaignSummary
from followup.transports.base import Transport


@task(name="check-can-send", cache_policy=NO_CACHE)
def sending_refusal(setup: SendSetup, email: Transport | None = None) -> str | None:
    return sending.refusal(setup, email)


@task(name="plan-messages", cache_policy=NO_CACHE)
def plan_messages(setup: PlanSetup, campaign: str, batch_id: str, business_now: datetime) -> PlanResult:
    return planning.plan_batch(setup, campaign, batch_id, business_now)


@task(name="plan-next-steps", cache_policy=NO_CACHE)
def plan_next_steps(setup: PlanSetup, business_now: datetime) -> NextSteps:
    return planning.plan_next(setup, business_now)


@task(name="recover-claims", cache_policy=NO_CACHE)
def recover_claims(setup: SendSetup) -> dict:
    return sending.recover(setup)


@task(name="forward-replies", cache_policy=NO_CACHE)
def forward_replies(setup: SendSetup, email: Transport | None = None) -> dict[str, int]:
    return replies.forward_replies(setup, email)


@task(name="due-campaigns", cache_policy=NO_CACHE)
def due_campaigns(ledger_url: str, business_now: datetime) -> list[str]:
    return sending.due_campaigns(ledger_url, business_now)


# One task for the whole send stage: its chunks are the claims the sender makes just in time,
# and a retry simply claims what is still due.
@task(name="send-due", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=1)
def send_messages(
    setup: SendSetup,
    business_now: datetime,
    campaign: str | None,
    email: Transport | None = None,
    more_coming: Callable[[], bool] | None = None,
) -> SendReport:
    return sending.send_stage(setup, business_now=business_now, campaign=campaign, email=email, more_coming=more_coming)


@task(name="campaign-outcome", cache_policy=NO_CACHE)
def campaign_outcome(
    ledger_url: str, call_sheet_dir: Path, summary: CampaignSummary, business_now: datetime
) -> tuple[CampaignSummary, list[dict]]:
    return summaries.campaign_outcome(ledger_url, call_sheet_dir, summary, business_now)


@task(name="waiting-messages", cache_policy=NO_CACHE)
def waiting_messages(ledger_url: str, business_now: datetime) -> tuple[dict[str, int], datetime | None]:
    return summaries.waiting(ledger_url, business_now)


@task(name="dry-run-outcome", cache_policy=NO_CACHE)
def dry_run_outcome(ledger_url: str, scratch_ledger_url: str, summary: CampaignSummary) -> CampaignSummary:
    return summaries.dry_run_outcome(ledger_url, scratch_ledger_url, summary)
