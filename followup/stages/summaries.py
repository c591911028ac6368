"""What a campaign run and a sweep report (to the terminal, to --json, and as Prefect table
artifacts), and the ledger queries that fill them in.

    summary, calls = campaign_outcome(ledger_url, call_sheet_dir, summary, now)   # after a run
    summary = dry_run_outcome(ledger_url, scratch_ledger_url, summary)       # after a dry run
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from followup.channels import delivered_by
from followup.models import CampaignState
from followup.stages.importing import ImportSummary
from followup.store import close_ledger, open_ledger
from followup.store.control import campaign_state
from followup.store.reports import (
    call_sheet_rows,
    failure_reasons,
    keys_past_rendering,
    rendered_messages,
    status_counts,
    waiting_by_day,
)

# The statuses a run reports, in the order a recruiter reads them.
REPORTED = ("sent", "failed", "suppressed", "unknown", "retry_wait", "cancelled", "rendered", "planned")
# The reasons a run lists: messages that wait for a person or for a retry.
_NEEDS_A_PERSON = ("failed", "unknown", "suppressed", "retry_wait")
_SAMPLES = 3  # rendered messages a dry run shows


@dataclass
class CampaignSummary:
    campaign: str
    batch: ImportSummary
    status: str = "done"  # done | paused | refused | dry_run
    reason: str | None = None  # why refused or paused
    planned: int = 0  # new messages planned by this run
    already_planned: int = 0  # decisions whose cadence exists already (an earlier run, file or campaign)
    stopped: int = 0  # decisions not planned: their candidate is stopped (`followup stop`)
    rendered: int = 0
    render_failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # every message of the campaign, by status
    reasons: list[tuple[str, str, int]] = field(default_factory=list)  # (status, reason, messages)
    requests: int = 0  # messages handed to a transport by this run, retries included
    would_send: dict[str, int] = field(default_factory=dict)  # dry run: "kind/channel" -> messages
    samples: list[dict] = field(default_factory=list)  # dry run: a few rendered messages
    call_sheets: list[str] = field(default_factory=list)  # the call-sheet files this run wrote to
    # Decisions a re-import changed (ChangedDecision as dicts); those with "sent" > 0 had heard the
    # old decision already, and the recruiter must put that right by hand.
    changed: list[dict] = field(default_factory=list)
    rerendered: int = 0  # rendered messages sent back to be rendered: the batch changed their facts
    later: dict[str, int] = field(default_factory=dict)  # waiting for their window, by UTC day it opens
    next_due: datetime | None = None  # the earliest of those windows

    @property
    def unfinished(self) -> int:
        """Messages that need a person: failed or of unknown fate."""
        return self.counts.get("failed", 0) + self.counts.get("unknown", 0)

    def exit_code(self) -> int:
        """0 done (retries still waiting included), 1 something needs a person, 2 refused."""
        if self.status == "refused":
            return 2
        if self.status == "paused" or self.unfinished:
            return 1
        return 0

    def table(self) -> list[dict]:
        """The outcome as rows: one per status, then one per reason (the table artifact)."""
        rows = [{"outcome": "quarantined rows", "messages": self.batch.quarantined, "reason": self.batch.quarantine_file or ""}]
        rows += [{"outcome": status, "messages": self.counts.get(status, 0), "reason": ""} for status in REPORTED
                 if self.counts.get(status)]  # fmt: skip
        rows += [{"outcome": status, "messages": n, "reason": reason} for status, reason, n in self.reasons]
        return rows

    def to_json(self) -> dict:
        data = asdict(self)
        data["batch"] = self.batch.to_json()
        data["reasons"] = [{"status": s, "reason": r, "messages": n} for s, r, n in self.reasons]
        return data


@dataclass
class SweepSummary:
    recovered_sent: int = 0  # a dead sender's messages that events show arrived
    recovered_unknown: int = 0  # a dead sender's messages of unknown fate, left for a person
    reconciled: int = 0  # unknown messages whose events have arrived since
    forwards: dict[str, int] = field(default_factory=dict)  # replies forwarded to recruiters, by outcome
    rendered: int = 0
    render_failed: int = 0
    campaigns: dict[str, dict] = field(default_factory=dict)  # name -> what its send did
    next_steps: dict = field(default_factory=dict)  # what planning did (NextSteps.to_json)
    later: dict[str, int] = field(default_factory=dict)  # waiting for their window, by UTC day it opens
    next_due: datetime | None = None
    next_step_due: datetime | None = None  # the earliest follow-up step still waiting out its business days

    def exit_code(self) -> int:
        """0 done (retries still waiting included); 1 a campaign paused or messages need a person."""
        trouble = self.recovered_unknown + self.render_failed
        trouble += self.forwards.get("failed", 0) + self.forwards.get("unknown", 0)
        for sent in self.campaigns.values():
            trouble += sent["failed"] + sent["unknown"] + int(sent["paused"])
        return 1 if trouble else 0

    def to_json(self) -> dict:
        return asdict(self)


def campaign_outcome(
    ledger_url: str, call_sheet_dir: Path, summary: CampaignSummary, now: datetime
) -> tuple[CampaignSummary, list[dict]]:
    """The summary with the campaign's counts, reasons and state, what waits for a later window,
    and its call-sheet rows."""
    engine = open_ledger(ledger_url)
    summary.counts = status_counts(engine, summary.campaign)
    summary.later, summary.next_due = waiting_by_day(engine, summary.campaign, now)
    summary.reasons = failure_reasons(engine, summary.campaign, _NEEDS_A_PERSON)
    state = campaign_state(engine, summary.campaign)
    if state is not None and state[0] is CampaignState.PAUSED:
        # Paused before this run (by hand, or by an earlier run): it planned and rendered, sent nothing.
        summary.status, summary.reason = "paused", summary.reason or state[1]
    calls = call_sheet_rows(engine, summary.campaign, delivered_by("call_sheet"))
    days = sorted({row.get("local_time_to_call", "")[:10] for row in calls})
    summary.call_sheets = [str(call_sheet_dir / f"{day}.csv") for day in days]
    return summary, calls


def waiting(ledger_url: str, now: datetime) -> tuple[dict[str, int], datetime | None]:
    """Every campaign's messages waiting for a later window, by UTC day, and the next opening."""
    return waiting_by_day(open_ledger(ledger_url), None, now)


def dry_run_outcome(ledger_url: str, scratch_ledger_url: str, summary: CampaignSummary) -> CampaignSummary:
    """The summary with what a dry run rendered in its scratch ledger, less what the real ledger
    shows was handed on already: the counts and samples a real run would send."""
    handled = keys_past_rendering(open_ledger(ledger_url), summary.campaign)
    scratch = open_ledger(scratch_ledger_url)
    rows = [r for r in rendered_messages(scratch, summary.campaign) if r["message_key"] not in handled]
    summary.already_planned = summary.planned - len(rows) - summary.render_failed
    summary.would_send = dict(Counter(f"{r['kind']}/{r['channel']}" for r in rows))
    summary.samples = [{k: v for k, v in r.items() if k != "message_key"} for r in rows[:_SAMPLES]]
    summary.counts = status_counts(scratch, summary.campaign)
    summary.reasons = failure_reasons(scratch, summary.campaign, ("failed",))
    close_ledger(scratch_ledger_url)  # its file goes with the dry run's scratch folder
    return summary
