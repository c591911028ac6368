"""Rendering and sending at once, for a big campaign: the senders start on the first chunks
rendered while the render workers go on with the rest.

    with rendering_underway() as underway:
        ...render in the background, then underway.finish()...
        send_stage(setup, business_now=now, campaign=name, more_coming=underway)

A sender that finds nothing due asks `more_coming()` before it finishes, and waits for more while
rendering goes on. The flag is a file, so that sender processes see it too; it is removed
when rendering ends, however it ends, so a sender never waits on a renderer that is gone.

Nothing about exactly-once changes: rendering only moves rows from `planned` to `rendered`, and a
sender claims only `rendered` rows, atomically (DESIGN.md, the message ledger).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RenderingUnderway:
    """True while rendering goes on. Picklable: a sender process gets the same flag."""

    path: Path

    def __call__(self) -> bool:
        return self.path.exists()

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


@contextmanager
def rendering_underway() -> Iterator[RenderingUnderway]:
    handle, name = tempfile.mkstemp(prefix="followup-rendering-")
    os.close(handle)
    flag = RenderingUnderway(Path(name))
    try:
        yield flag
    finally:
        flag.finish()
