"""The render stage as the flows run it: chunks of planned messages rendered into the ledger,
in this process or, for a big campaign, spread over one process per core.

Rendering is CPU work under one interpreter lock, so a second process is what uses a second
core; each worker compiles the templates once (about two seconds with its imports), which pays
off only past a few thousand messages. The workers import no Prefect.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from followup.rendering import Renderer, render_chunk
from followup.store import open_ledger
from followup.store.messages import rows_for_render, save_render_results

CHUNK = 2_000
# Below this many messages a second process costs more to start than it saves.
PARALLEL_FROM = 10_000


@functools.lru_cache(maxsize=4)
def renderer_for(templates_dir: Path | None) -> Renderer:
    """Templates compile once per process, not once per chunk."""
    return Renderer(templates_dir)


def render_and_store(ledger_url: str, ids: Sequence[int], templates_dir: Path | None, now: datetime | None) -> dict[str, int]:
    """Render one chunk; a row that fails is marked failed with its reason and the rest go on.
    Safe to repeat: only rows still `planned` are read and written."""
    engine = open_ledger(ledger_url)
    rendered, failed = render_chunk(renderer_for(templates_dir), rows_for_render(engine, ids), now=now)
    save_render_results(engine, rendered, failed)
    return {"rendered": len(rendered), "failed": len(failed)}


def chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def render_in_processes(
    ledger_url: str, ids: Sequence[int], templates_dir: Path | None, now: datetime | None, processes: int
) -> dict[str, int]:
    """Every chunk of `ids`, spread over `processes` spawned workers; the counts added up."""
    work = [(ledger_url, chunk, templates_dir, now) for chunk in chunks(ids)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(render_and_store, work, chunksize=1)
    total: Counter = Counter()
    for result in results:
        total.update(result)
    return {"rendered": total["rendered"], "failed": total["failed"]}
