"""What a campaign run reports: to the terminal, to --json, and as a Prefect table artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from followup.intake import ImportSummary

# The statuses a run reports, in the order a recruiter reads them.
REPORTED = ("sent", "failed", "suppressed", "unknown", "retry_wait", "cancelled", "rendered", "planned")


@dataclass
class CampaignSummary:
    campaign: str
    batch: ImportSummary
    status: str = "done"  # done | paused | refused | dry_run
    reason: str | None = None  # why refused or paused
    planned: int = 0  # new messages planned by this run
    already_planned: int = 0  # planned by an earlier run of the same campaign
    rendered: int = 0
    render_failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # every message of the campaign, by status
    reasons: list[tuple[str, str, int]] = field(default_factory=list)  # (status, reason, messages)
    requests: int = 0  # messages handed to a transport by this run, retries included
    would_send: dict[str, int] = field(default_factory=dict)  # dry run: "kind/channel" -> messages
    samples: list[dict] = field(default_factory=list)  # dry run: a few rendered messages
    call_sheets: list[str] = field(default_factory=list)  # the call-sheet files this run wrote to

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
    rendered: int = 0
    render_failed: int = 0
    campaigns: dict[str, dict] = field(default_factory=dict)  # name -> what its send did

    def exit_code(self) -> int:
        """0 done (retries still waiting included); 1 a campaign paused or messages need a person."""
        trouble = self.recovered_unknown + self.render_failed
        for sent in self.campaigns.values():
            trouble += sent["failed"] + sent["unknown"] + int(sent["paused"])
        return 1 if trouble else 0

    def to_json(self) -> dict:
        return asdict(self)
