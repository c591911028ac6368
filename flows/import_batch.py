"""Import one candidate batch: read, validate with Great Expectations, quarantine, store."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from followup.config import Settings
from followup.stages.importing import ImportSetup, ImportSummary
from flows.secret_blocks import run_settings
from tasks import importing as import_tasks


@flow(name="import-batch", validate_parameters=False)
def import_batch(
    path: Path | str,
    mapping_file: Path | str | None = None,
    settings: Settings | None = None,
) -> ImportSummary:
    """Import `path`. A refused batch is a normal outcome (status "refused"), not a flow failure."""
    setup = ImportSetup.of(run_settings(settings))
    log = get_run_logger()
    path = Path(path)
    opened = import_tasks.open_batch(path, setup)
    if isinstance(opened, ImportSummary):
        if opened.status == "already_imported":
            log.info("batch %s was already imported from identical bytes; nothing to add", opened.batch_id)
        return opened
    raw = import_tasks.read_batch(path, Path(mapping_file) if mapping_file else None, opened, setup)
    if isinstance(raw, ImportSummary):
        return raw
    checked, quarantine_file = import_tasks.validate_batch(raw, opened, setup)
    summary = import_tasks.store_batch(opened, raw, checked, quarantine_file, setup)
    if not summary.refused:
        log.info(
            "batch %s: %d rows, %d valid, %d quarantined; %d new and %d updated candidates",
            summary.batch_id, summary.rows, summary.valid, summary.quarantined, summary.new_candidates,
            summary.updated_candidates,
        )  # fmt: skip
    return summary
