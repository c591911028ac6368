"""The warm-list task: a thin Prefect task over followup.stages.engagement."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup.stages import engagement
from followup.stages.engagement import EngagementSetup


@task(name="warm-list", cache_policy=NO_CACHE)
def warm_list(setup: EngagementSetup, business_now: datetime) -> str:
    """The candidates warming up or warmer, warmest first, as the sweep's Markdown artifact."""
    return engagement.warm_list_markdown(engagement.candidate_engagement(setup, business_now, warm_only=True),
                                         business_now)  # fmt: skip
