"""What an import reports, to the CLI, the schedule and the flow's caller alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ImportSummary:
    batch_id: str
    status: str  # imported | already_imported | refused
    rows: int = 0
    valid: int = 0
    quarantined: int = 0
    quarantine_file: str | None = None
    data_docs: str | None = None
    reason: str | None = None
    new_candidates: int = 0
    updated_candidates: int = 0
    changes: int = 0

    @property
    def refused(self) -> bool:
        return self.status == "refused"

    def to_json(self) -> dict:
        """The document `followup import --json` prints: the stable keys first, details after."""
        data = asdict(self)
        keys = ["batch_id", "status", "rows", "valid", "quarantined", "quarantine_file", "data_docs"]
        return {**{k: data.pop(k) for k in keys}, **data}
