"""Import-stage tasks: one per step of followup.stages.importing, each on a whole batch as one
vectorised chunk.

No task caches by input: hashing a million-row frame would cost more than the work, and the
ledger (file hash, candidate upsert) is what makes a re-run safe.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup import importing, validation
from followup.stages import importing as stage
from followup.stages.importing import ImportSetup, ImportSummary
from followup.store.batches import BatchRecord


@task(name="open-batch", cache_policy=NO_CACHE)
def open_batch(path: Path, setup: ImportSetup) -> BatchRecord | ImportSummary:
    return stage.open_batch(path, setup)


@task(name="read-batch", cache_policy=NO_CACHE)
def read_batch(
    path: Path, mapping_file: Path | None, record: BatchRecord, setup: ImportSetup
) -> importing.RawBatch | ImportSummary:
    # A refused file is an answer, not a failed task: a raised one would have Prefect log it
    # with a traceback on the user's terminal.
    return stage.read(path, mapping_file, record, setup)


@task(name="validate-batch", cache_policy=NO_CACHE)
def validate_batch(
    raw: importing.RawBatch, record: BatchRecord, setup: ImportSetup
) -> tuple[validation.Validated, Path | None]:
    return stage.validate(raw, record, setup)


@task(name="store-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store_batch(
    record: BatchRecord,
    raw: importing.RawBatch,
    checked: validation.Validated,
    quarantine_file: Path | None,
    setup: ImportSetup,
) -> ImportSummary:
    return stage.store(record, raw, checked, quarantine_file, setup)
