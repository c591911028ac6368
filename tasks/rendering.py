"""Render-stage tasks: one task per chunk of planned message ids."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup.rendering import Renderer, render_chunk
from followup.store import open_ledger
from followup.store.messages import rows_for_render, save_render_results

CHUNK = 2_000


@functools.lru_cache(maxsize=4)
def renderer_for(templates_dir: Path | None) -> Renderer:
    """Templates compile once per process, not once per chunk."""
    return Renderer(templates_dir)


@task(name="render-messages", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def render_messages(
    ledger_url: str, ids: list[int], templates_dir: Path | None = None, now: datetime | None = None
) -> dict[str, int]:
    """Render one chunk; a row that fails is marked failed with its reason and the rest go on.

    Safe to retry: only rows still `planned` are read and written.
    """
    engine = open_ledger(ledger_url)
    rendered, failed = render_chunk(renderer_for(templates_dir), rows_for_render(engine, ids), now=now)
    save_render_results(engine, rendered, failed)
    return {"rendered": len(rendered), "failed": len(failed)}
