"""Render-stage tasks: one task per chunk of planned message ids, or one task that spreads a
big campaign's chunks over one process per core (followup.stages.rendering)."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup.stages import rendering as stage
from followup.stages.rendering import PARALLEL_FROM, RenderSetup


@task(name="planned-messages", cache_policy=NO_CACHE)
def planned_messages(ledger_url: str, campaign: str) -> list[int]:
    return stage.planned(ledger_url, campaign)


@task(name="render-messages", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def render_messages(
    ledger_url: str, ids: list[int], setup: RenderSetup, now: datetime | None = None
) -> dict[str, int]:
    """Render one chunk; safe to retry: only rows still `planned` are read and written."""
    return stage.render_and_store(ledger_url, ids, setup, now)


@task(name="render-messages-in-processes", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
def _render_in_processes(
    ledger_url: str, ids: list[int], setup: RenderSetup, now: datetime | None, processes: int
) -> dict[str, int]:
    return stage.render_in_processes(ledger_url, ids, setup, now, processes)


def render_campaign(
    ledger_url: str, campaign: str, setup: RenderSetup, now: datetime | None, processes: int
) -> dict[str, int]:
    """Render the campaign's planned messages: chunk by chunk in this process for a small
    campaign, over `processes` worker processes for a big one. Returns the counts rendered and
    failed. The campaign flow and the sweep both render through this one composition."""
    ids = planned_messages(ledger_url, campaign)
    if processes > 1 and len(ids) >= PARALLEL_FROM:
        return _render_in_processes(ledger_url, ids, setup, now, processes)
    total = {"rendered": 0, "failed": 0}
    for chunk in stage.chunks(ids):
        done = render_messages(ledger_url, list(chunk), setup, now)
        total = {key: total[key] + done[key] for key in total}
    return total
