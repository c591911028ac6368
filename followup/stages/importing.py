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

    @classmethod
    def of_batch(cls, batch, status: str) -> "ImportSummary":
        """The summary of a stored batch or batch record (anything with the batch's fields)."""
        return cls(
            batch_id=batch.id,
            status=status,
            rows=batch.rows,
            valid=batch.valid,
            quarantined=batch.quarantined,
            quarantine_file=batch.quarantine_file,
            data_docs=batch.data_docs,
        )

    @property
    def refused(self) -> bool:
        return self.status == "refused"

    def to_json(self) -> dict:
        """The document `followup import --json` prints: the stable keys first, details after."""
        data = asdict(self)
        keys = ["batch_id", "status", "rows", "valid", "quarantined", "quarantine_file", "data_docs"]
        return {**{k: data.pop(k) for k in keys}, **data}
