"""Import one candidate batch: read, validate with Great Expectations, quarantine, store."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from followup import importing, validation
from followup.config import Settings, load_settings
from followup.intake import ImportSummary
from followup.store import open_ledger
from followup.store.batches import BatchRecord, find_imported, new_batch_id, record_refusal
from tasks import importing as import_tasks


def refuse_unreadable(engine, path: Path, problem: str) -> ImportSummary:
    """A path that is no readable file: refused and recorded like any refused batch, with no hash
    (there are no bytes to hash). Plain Python, so the CLI can refuse before Prefect starts."""
    reason = f"cannot read {path}: {problem}"
    record = BatchRecord(id=new_batch_id(""), source_name=path.name, file_sha256="")
    record_refusal(engine, record, reason)
    return ImportSummary(batch_id=record.id, status="refused", reason=reason)


@flow(name="import-batch", validate_parameters=False)
def import_batch(
    path: Path | str,
    mapping_file: Path | str | None = None,
    settings: Settings | None = None,
) -> ImportSummary:
    """Import `path`. A refused batch is a normal outcome (status "refused"), not a flow failure."""
    settings = settings or load_settings()
    log = get_run_logger()
    path = Path(path)
    engine = open_ledger(settings.ledger_url)

    try:
        sha = importing.file_sha256(path)
    except OSError as exc:
        return refuse_unreadable(engine, path, exc.strerror or str(exc))
    known = find_imported(engine, sha)
    if known is not None:
        log.info("batch %s was already imported from identical bytes; nothing to add", known.id)
        return ImportSummary.of_batch(known, "already_imported")

    batch_id = new_batch_id(sha)
    record = BatchRecord(id=batch_id, source_name=path.name, file_sha256=sha)
    try:
        mapping = importing.load_mapping(Path(mapping_file)) if mapping_file else None
        raw = import_tasks.read_batch(path, mapping)
        if isinstance(raw, importing.ImportRefused):
            raise raw
    except importing.ImportRefused as exc:
        record_refusal(engine, record, str(exc))
        return ImportSummary(batch_id=batch_id, status="refused", reason=str(exc))

    checked, quarantine_file = import_tasks.validate_batch(
        raw,
        batch_id,
        settings.docs_dir,
        settings.quarantine_dir,
        settings.country,
        settings.timezone,
    )
    record = BatchRecord(
        id=batch_id,
        source_name=path.name,
        file_sha256=sha,
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

    refusal = validation.gate_reason(checked, settings.max_bad_share)
    if refusal:
        record_refusal(engine, record, refusal)
        return ImportSummary(**{**summary.__dict__, "status": "refused", "reason": refusal})

    stats = import_tasks.store(settings.ledger_url, record, checked)
    log.info(
        "batch %s: %d rows, %d valid, %d quarantined; %d new and %d updated candidates",
        batch_id, record.rows, record.valid, record.quarantined, stats.new_candidates, stats.updated_candidates,
    )  # fmt: skip
    return ImportSummary(
        **{
            **summary.__dict__,
            "new_candidates": stats.new_candidates,
            "updated_candidates": stats.updated_candidates,
            "changes": stats.changes,
        }
    )
