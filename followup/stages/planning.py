"""The plan stage: the cadence's first step for every decision of a batch, as ledger rows.

The rules (which message comes first, when it is due, its key) are the cadence's
(followup.cadence); the store writes the rows, and a row planned before is not planned again.
A person `followup stop` took out is not planned at all, in any campaign, until the stop is undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from followup import importing
from followup.cadence import first_step, message_key
from followup.models import CampaignState
from followup.store import open_ledger
from followup.store.planning import NewMessage, batch_decisions, ensure_campaign, insert_messages


@dataclass(frozen=True)
class PlanResult:
    planned: int = 0  # new rows
    already: int = 0  # rows that existed from an earlier run of the same campaign
    stopped: int = 0  # decisions left unplanned: their candidate is stopped (`followup stop`)
    # Why nothing was planned: the campaign was cancelled. A value, not an exception: a refusal is
    # an answer, and a raised one would have Prefect log a traceback on the user's terminal.
    refused: str | None = None


def default_campaign_name(path: Path) -> str:
    """"round-3.csv" -> "round-3-1a2b3c4d": readable, and the same for the same bytes, so running
    the same file again continues the same campaign."""
    return f"{path.stem}-{importing.file_sha256(path)[:8]}"


def plan_batch(ledger_url: str, campaign: str, batch_id: str, business_now: datetime) -> PlanResult:
    """Plan the first message (offer or rejection, on the candidate's channel) for every
    decision the batch stored, due at `business_now`, except those of stopped candidates. Nothing
    more is planned for a cancelled campaign."""
    engine = open_ledger(ledger_url)
    if ensure_campaign(engine, campaign) is CampaignState.CANCELLED:
        return PlanResult(refused=f"campaign {campaign!r} was cancelled; plan under another --campaign name")
    stored = batch_decisions(engine, batch_id)
    decisions = [d for d in stored if not d.stopped]
    messages = (
        NewMessage(message_key(campaign, d.candidate_id, step.kind, step.step, step.channel), campaign,
                   d.candidate_id, d.decision_id, *step)
        for d in decisions
        for step in (first_step(d.decision, d.channel, business_now),)
    )  # fmt: skip
    planned = insert_messages(engine, messages)
    return PlanResult(planned=planned, already=len(decisions) - planned, stopped=len(stored) - len(decisions))
