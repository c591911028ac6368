"""The render stage as the flows run it: a campaign's planned messages, in chunks rendered into
the ledger, in this process or, for a big campaign, spread over one process per core.

    ids = planned(ledger_url, campaign)
    for chunk in chunks(ids): render_and_store(ledger_url, chunk, setup, now)
    # or, from PARALLEL_FROM messages: render_in_processes(ledger_url, ids, setup, now, processes)

Rendering is CPU work under one interpreter lock, so a second process is what uses a second
core; each worker compiles the templates once (about two seconds with its imports), which pays
off only past a few thousand messages. The workers import no Prefect.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from followup.config import Settings
from followup.rendering import Renderer, render_chunk
from followup.secret_key import signing_secret
from followup.stages import workers
from followup.store import open_ledger
from followup.store.messages import planned_ids, rows_for_render, save_render_results

CHUNK = 2_000
# Below this many messages a second process costs more to start than it saves.
PARALLEL_FROM = 10_000


@dataclass(frozen=True)
class RenderSetup:
    """What rendering needs besides the rows: the user's templates, if any, the company's
    settings, the secret that signs unsubscribe links, and the variants not to send. Hashable,
    so a process compiles the templates once per setup, and picklable, so a worker process gets
    the same. The secret is a SecretStr: a repr or a log line shows asterisks."""

    templates_dir: Path | None = None
    company_defaults: tuple[tuple[str, str | int], ...] = ()
    unsubscribe_base_url: str | None = None
    unsubscribe_secret: SecretStr | None = None
    variants_off: tuple[str, ...] = ()  # FOLLOWUP_VARIANTS_OFF: ("offer.b",)

    @classmethod
    def of(cls, settings: Settings, templates_dir: Path | None = None) -> RenderSetup:
        return cls(
            templates_dir,
            tuple(sorted(settings.company_defaults().items())),
            settings.unsubscribe_url,
            signing_secret(settings),
            settings.variants_off,
        )


@functools.lru_cache(maxsize=4)
def renderer_for(setup: RenderSetup) -> Renderer:
    """Templates compile once per process, not once per chunk."""
    return Renderer(
        setup.templates_dir,
        company_defaults=dict(setup.company_defaults),
        unsubscribe_base_url=setup.unsubscribe_base_url,
        unsubscribe_secret=setup.unsubscribe_secret,
        variants_off=setup.variants_off,
    )


def planned(ledger_url: str, campaign: str | None = None) -> list[int]:
    """Ids of the campaign's (or every) message waiting to be rendered, oldest plan first."""
    return planned_ids(open_ledger(ledger_url), campaign)


def render_and_store(ledger_url: str, ids: Sequence[int], setup: RenderSetup, now: datetime | None) -> dict[str, int]:
    """Render one chunk; a row that fails is marked failed with its reason and the rest go on.
    Safe to repeat: only rows still `planned` are read and written."""
    engine = open_ledger(ledger_url)
    rendered, failed = render_chunk(renderer_for(setup), rows_for_render(engine, ids), now=now)
    save_render_results(engine, rendered, failed)
    return {"rendered": len(rendered), "failed": len(failed)}


def chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def render_chunks(ledger_url: str, ids: Sequence[int], setup: RenderSetup, now: datetime | None,
                  render: Callable[..., dict[str, int]] = render_and_store) -> dict[str, int]:  # fmt: skip
    """Every chunk of `ids` in this process, one after another, through `render` (render_and_store,
    or the task that records each chunk); the counts added up."""
    total = {"rendered": 0, "failed": 0}
    for chunk in chunks(ids):
        done = render(ledger_url, list(chunk), setup, now)
        total = {key: total[key] + done[key] for key in total}
    return total


def render_in_processes(
    ledger_url: str, ids: Sequence[int], setup: RenderSetup, now: datetime | None, processes: int
) -> dict[str, int]:
    """Every chunk of `ids`, spread over `processes` workers; the counts added up."""
    work = [(ledger_url, chunk, setup, now) for chunk in chunks(ids)]
    with workers.context().Pool(processes) as pool:
        results = pool.starmap(render_and_store, work, chunksize=1)
    total: Counter = Counter()
    for result in results:
        total.update(result)
    return {"rendered": total["rendered"], "failed": total["failed"]}
