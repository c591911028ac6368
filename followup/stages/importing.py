"""The import stage: a batch file read, validated with Great Expectations, quarantined, gated
and stored, as four plain steps that the import flow's tasks wrap one to one.

    setup = ImportSetup.of(settings)
    opened = open_batch(path, setup)          # a BatchRecord, or the summary when there is nothing to do
    raw = read(path, mapping_file, opened, setup)
    checked, quarantine_file = validate(raw, opened, setup)
    summary = store(opened, raw, checked, quarantine_file, setup)

A refusal is a normal outcome, returned as an ImportSummary with status "refused" and recorded in
the ledger, never raised: a schedule reads it, and Prefect shows no traceback for it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from followup import importing, validation
from followup.config import Settings
from followup.stages import workers
from followup.store import open_ledger
from followup.store.batches import BatchRecord, find_imported, new_batch_id, record_refusal, store_batch


@dataclass(frozen=True)
class ImportSetup:
    """What importing needs from the settings."""

    ledger_url: str
    docs_dir: Path
    quarantine_dir: Path
    max_bad_share: float = 0.20
    default_country: str | None = None
    default_timezone: str | None = None
    limits: importing.ReadLimits = importing.ReadLimits()

    @classmethod
    def of(cls, settings: Settings) -> ImportSetup:
        return cls(settings.ledger_url, settings.docs_dir, settings.quarantine_dir, settings.max_bad_share,
                   settings.country, settings.timezone, read_limits(settings))  # fmt: skip


def read_limits(settings: Settings) -> importing.ReadLimits:
    """How big a file the reader takes (FOLLOWUP_MAX_FILE_MB, _MAX_COLUMNS, _MAX_CELL_CHARS)."""
    return importing.ReadLimits(settings.max_file_mb, settings.max_columns, settings.max_cell_chars)


@dataclass(frozen=True)
class ImportSummary:
    """What an import reports, to the CLI, the schedule and the flow's caller alike."""

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


def refuse_unreadable(ledger_url: str, path: Path, problem: str) -> ImportSummary:
    """A path that is no readable file: refused and recorded like any refused batch, with no hash
    (there are no bytes to hash). Needs no Prefect, so the CLI refuses before Prefect starts."""
    reason = f"cannot read {path}: {problem}"
    record = BatchRecord(id=new_batch_id(""), source_name=path.name, file_sha256="")
    record_refusal(open_ledger(ledger_url), record, reason)
    return ImportSummary(batch_id=record.id, status="refused", reason=reason)


def open_batch(path: Path, setup: ImportSetup) -> BatchRecord | ImportSummary:
    """The new batch's record (its id and the file's hash), or the summary when there is nothing
    to import: the same bytes were imported before, or the file cannot be read."""
    try:
        sha = importing.file_sha256(path)
    except OSError as exc:
        return refuse_unreadable(setup.ledger_url, path, exc.strerror or str(exc))
    known = find_imported(open_ledger(setup.ledger_url), sha)
    if known is not None:
        return ImportSummary.of_batch(known, "already_imported")
    return BatchRecord(id=new_batch_id(sha), source_name=path.name, file_sha256=sha)


def read(path: Path, mapping_file: Path | None, record: BatchRecord, setup: ImportSetup) -> importing.RawBatch | ImportSummary:
    """The batch's rows under our column names, or its recorded refusal (columns missing, a file
    that cannot be parsed, a bad mapping, a file past the limits)."""
    try:
        mapping = importing.load_mapping(Path(mapping_file)) if mapping_file else None
        return importing.read_batch(path, mapping, setup.limits)
    except importing.ImportRefused as exc:
        record_refusal(open_ledger(setup.ledger_url), record, str(exc))
        return ImportSummary(batch_id=record.id, status="refused", reason=str(exc))


def validate(raw: importing.RawBatch, record: BatchRecord, setup: ImportSetup) -> tuple[validation.Validated, Path | None]:
    """The suite's verdict on every row, and the quarantine file of the bad ones (None: no bad row)."""
    checked = validation.validate_batch(
        raw,
        batch_id=record.id,
        docs_dir=setup.docs_dir,
        default_country=setup.default_country,
        default_timezone=setup.default_timezone,
        max_cell_chars=setup.limits.max_cell_chars,
        suite=workers.run_suite if workers.suite_in_worker() else validation.run_suite,
    )
    quarantine_file = validation.write_quarantine(checked, setup.quarantine_dir / f"{record.id}.csv")
    return checked, quarantine_file


def store(
    record: BatchRecord,
    raw: importing.RawBatch,
    checked: validation.Validated,
    quarantine_file: Path | None,
    setup: ImportSetup,
) -> ImportSummary:
    """Refuse the whole batch when too many rows are bad (only the refusal is recorded); else
    store its good rows, in one transaction, so a retry after a dropped connection starts clean."""
    record = replace(
        record,
        format=raw.format,
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        suite_version=validation.SUITE_VERSION,
        rows=checked.rows,
        valid=len(checked.valid),
        quarantined=len(checked.quarantine),
        quarantine_file=str(quarantine_file) if quarantine_file else None,
        data_docs=str(checked.data_docs) if checked.data_docs else None,
    )
    summary = ImportSummary.of_batch(record, "imported")
    engine = open_ledger(setup.ledger_url)
    refusal = validation.gate_reason(checked, setup.max_bad_share)
    if refusal:
        record_refusal(engine, record, refusal)
        return replace(summary, status="refused", reason=refusal)
    stats = store_batch(engine, record, checked.valid)
    return replace(summary, new_candidates=stats.new_candidates, updated_candidates=stats.updated_candidates,
                   changes=stats.changes)  # fmt: skip
