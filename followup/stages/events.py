"""`followup events ingest`: SendGrid events exported to a file (its JSON array, or JSON lines),
stored as the webhook stores them (store.events), for events the receiver never got: a ledger
set up after the round began, a receiver that was down for longer than SendGrid retries.

The file is read and checked whole before anything is stored: a line that is not an event, or
an event stamped after the business clock's `now`, refuses the file. It is stored in chunks,
each its own transaction; running the same file again stores nothing twice, so an interrupted
ingest is finished by running it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from followup.store import open_ledger
from followup.store.events import NOTHING, store_events
from followup.tracking.events import NotEvents, normalise, parse_lines

_CHUNK = 5_000


class IngestRefused(Exception):
    """The file is not one of SendGrid's event exports, or names events after `now`."""


@dataclass(frozen=True)
class IngestSummary:
    file: str
    events: int
    stored: int
    duplicates: int
    unmatched: int
    settled: int
    suppressed: int

    def to_json(self) -> dict:
        return asdict(self)


def ingest_events(
    path: Path, now: datetime, ledger_url: str, max_bytes: int, on_progress: Callable[[int, int], None] | None = None
) -> IngestSummary:
    """Store the events of `path` as of the business clock `now`; IngestRefused before storing anything."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestRefused(f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestRefused(f"cannot read {path.name}: {exc}") from None
    try:
        rows = [normalise(event, now) for event in parse_lines(text)]
    except NotEvents as exc:
        raise IngestRefused(f"{path.name}: {exc}") from None
    late = [row for row in rows if row.occurred_at > now]
    if late:
        raise IngestRefused(
            f"{len(late)} event(s) are stamped after --now {now:%Y-%m-%d %H:%M} UTC, the first "
            f"{late[0].sg_event_id} at {late[0].occurred_at:%Y-%m-%d %H:%M} UTC: pass a later --now or check the export"
        )
    engine = open_ledger(ledger_url)
    total = NOTHING
    for start in range(0, len(rows), _CHUNK):
        total += store_events(engine, rows[start : start + _CHUNK], now)
        if on_progress is not None:
            on_progress(min(start + _CHUNK, len(rows)), len(rows))
    return IngestSummary(str(path), *total.astuple())
