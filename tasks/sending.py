"""Plan and send stages: thin Prefect tasks over followup.store.planning and followup.dispatch.

The ledger, not Prefect's cache, decides what is left to do, so a task retry or a re-run of
the flow never plans or sends anything twice.
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup import dispatch
from followup.config import Settings
from followup.delivery import SendReport
from followup.store import open_ledger
from followup.store.planning import PlanResult, plan_batch
from followup.transports.base import Transport


@task(name="plan-messages", cache_policy=NO_CACHE)
def plan_messages(ledger_url: str, campaign: str, batch_id: str, business_now: datetime) -> PlanResult:
    return plan_batch(open_ledger(ledger_url), campaign, batch_id, business_now)


@task(name="recover-claims", cache_policy=NO_CACHE)
def recover_claims(settings: Settings) -> dict:
    return dispatch.recover(settings)


# One task for the whole send stage: its chunks are the claims the sender makes just in time,
# and a retry simply claims what is still due.
@task(name="send-due", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=1)
def send_messages(
    settings: Settings, business_now: datetime, campaign: str | None, email: Transport | None = None
) -> SendReport:
    return dispatch.send_stage(settings, business_now=business_now, campaign=campaign, email=email)
