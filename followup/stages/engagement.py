"""Who is warming up: each contacted candidate's engagement (tracking.engagement) from the ledger,
for `followup candidates` and the sweep's warm-list artifact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from followup.config import Settings
from followup.store import open_ledger
from followup.store import engagement as store
from followup.tracking.engagement import COLD, Engagement, Thresholds, engagements

# The artifact is for reading at a glance; `followup candidates --warm` has the whole list.
ARTIFACT_ROWS = 100


@dataclass(frozen=True)
class EngagementSetup:
    ledger_url: str
    thresholds: Thresholds = Thresholds()

    @classmethod
    def of(cls, settings: Settings) -> EngagementSetup:
        return cls(settings.ledger_url, Thresholds(settings.warm_open_days, settings.machine_open_seconds))


@dataclass(frozen=True)
class Listed:
    engagement: Engagement
    name: str

    def to_json(self) -> dict:
        return {**self.engagement.to_json(), "name": self.name}


def candidate_engagement(setup: EngagementSetup, now: datetime, warm_only: bool = False) -> list[Listed]:
    """Every candidate written to by `now`, warmest first (only those warming or warmer with `warm_only`)."""
    engine = open_ledger(setup.ledger_url)
    people = store.contacted(engine, now)
    states = engagements({cid: zone for cid, (_, _, zone) in people.items()}, store.signals(engine, now),
                         store.answers(engine, now), setup.thresholds)  # fmt: skip
    return [
        Listed(state, " ".join(part for part in people[state.candidate_id][:2] if part))
        for state in states
        if not (warm_only and state.state == COLD)
    ]


def warm_list_markdown(listed: list[Listed], now: datetime) -> str:
    """The warm list as a Markdown table (the sweep's artifact); names escaped for the table."""
    lines = [f"# Warm candidates, {now:%Y-%m-%d %H:%M} UTC", ""]
    if not listed:
        return "\n".join(lines + ["Nobody has opened, clicked or answered yet."])
    lines += ["| candidate | name | state | since | evidence |", "|---|---|---|---|---|"]
    for row in listed[:ARTIFACT_ROWS]:
        state = row.engagement
        since = f"{state.since:%Y-%m-%d %H:%M}" if state.since else ""
        cells = [state.candidate_id, row.name, state.label, since, "; ".join(state.evidence)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    if len(listed) > ARTIFACT_ROWS:
        lines += ["", f"… and {len(listed) - ARTIFACT_ROWS} more: `followup candidates --warm` lists them all."]
    return "\n".join(lines)
