"""Progress bars for long runs, read from the ledger rather than reported by the flow.

The flow's tasks write every rendered and sent message to the ledger; a thread here counts
them twice a second. The bars never slow the work down, and they show the truth even when
several sender processes share the campaign.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

_INTERVAL_S = 0.5
# Past rendering: a message in any of these has been rendered (or given up on).
_RENDERED = ("rendered", "sending", "sent", "retry_wait", "failed", "suppressed", "cancelled", "unknown")
# Settled by the sender, one way or the other.
_SETTLED = ("sent", "failed", "suppressed", "cancelled", "unknown")


@contextmanager
def ledger_progress(console: Console, counts: Callable[[], dict[str, int]], label: str) -> Iterator[None]:
    """Render and send bars for one campaign while the block runs; nothing when stderr is not a
    terminal (a schedule's log should hold the summary, not a thousand redraws)."""
    if not console.is_terminal:
        yield
        return
    done = threading.Event()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),  # it names the campaign: plain text
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bars:
        rendering = bars.add_task(f"{label}: importing and planning", total=None)
        sending = bars.add_task("sending", total=None, visible=False)

        def watch() -> None:
            while not done.wait(_INTERVAL_S):
                try:
                    now = counts()
                except Exception:  # the ledger may be mid-migration on a first run: try again
                    continue
                total = sum(now.values())
                if not total:
                    continue
                bars.update(rendering, description=f"{label}: rendering", total=total,
                            completed=sum(now.get(s, 0) for s in _RENDERED))  # fmt: skip
                bars.update(sending, visible=True, total=total, completed=sum(now.get(s, 0) for s in _SETTLED))

        watcher = threading.Thread(target=watch, name="followup-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()
