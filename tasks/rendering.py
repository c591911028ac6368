"""Render-stage tasks: one task per chunk of planned message ids, or one task that spreads a
big campaign's chunks over one process per core (followup.stages.rendering), which may go on
while the campaign's first messages are sent (followup.stages.overlap)."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from followup.stages import rendering as stage
from followup.stages.overlap import RenderingUnderway
from followup.stages.rendering import PARALLEL_FROM, RenderSetup


@task(name="planned-messages", cache_policy=NO_CACHE)
def planned_messages(ledger_url: str, campaign: str) -> quote[list[int]]:
    """The ids quoted, here and wherever they are passed to a task: Prefect otherwise visits each
    of a big campaign's 100,000 ids to link it to this task run, and again for every task that
    takes them, about 2.5 s of the flow's thread before the first message (BENCHMARKS.md)."""
    return quote(stage.planned(ledger_url, campaign))


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


def render_in_background(
    ledger_url: str, ids: list[int], setup: RenderSetup, now: datetime | None, processes: int,
    underway: RenderingUnderway,
) -> PrefectFuture:
    """Render `ids` over `processes` workers in a thread of the flow while it goes on (to send
    what is rendered); `underway` ends when the task does, failed or not, its retry included."""
    future = _render_in_processes.submit(ledger_url, quote(ids), setup, now, processes)
    future.add_done_callback(lambda _: underway.finish())
    return future


def in_processes(ids: list[int], processes: int) -> bool:
    """Whether a campaign this big renders over worker processes (and can send meanwhile)."""
    return processes > 1 and len(ids) >= PARALLEL_FROM


def render_campaign(
    ledger_url: str, campaign: str, setup: RenderSetup, now: datetime | None, processes: int
) -> dict[str, int]:
    """Render the campaign's planned messages: chunk by chunk in this process for a small
    campaign, over `processes` worker processes for a big one. Returns the counts rendered and
    failed. The campaign flow and the sweep both render through this one composition."""
    return render_ids(ledger_url, planned_messages(ledger_url, campaign).unwrap(), setup, now, processes)


def render_ids(
    ledger_url: str, ids: list[int], setup: RenderSetup, now: datetime | None, processes: int
) -> dict[str, int]:
    if in_processes(ids, processes):
        return _render_in_processes(ledger_url, quote(ids), setup, now, processes)
    return stage.render_chunks(ledger_url, ids, setup, now, render=render_messages)
