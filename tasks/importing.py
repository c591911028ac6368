"""Import-stage tasks. Each works on a whole batch as one vectorised chunk.

No task caches by input: hashing a million-row frame would cost more than the work, and the
ledger (file hash, candidate upsert) is what makes a re-run safe.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from followup import importing, validation
from followup.store import open_ledger
from followup.store.batches import BatchRecord, StoreStats, store_batch


@task(name="read-batch", cache_policy=NO_CACHE)
def read_batch(path: Path, mapping: dict[str, str] | None) -> importing.RawBatch | importing.ImportRefused:
    """The batch, or the refusal as a value: a refused file is an answer, not a failed task, and a
    raised one would have Prefect log it with a traceback on the user's terminal."""
    try:
        return importing.read_batch(path, mapping)
    except importing.ImportRefused as refusal:
        return refusal


@task(name="validate-batch", cache_policy=NO_CACHE)
def validate_batch(
    raw: importing.RawBatch,
    batch_id: str,
    docs_dir: Path,
    quarantine_dir: Path,
    default_country: str | None,
    default_timezone: str | None,
) -> tuple[validation.Validated, Path | None]:
    checked = validation.validate_batch(
        raw,
        batch_id=batch_id,
        docs_dir=docs_dir,
        default_country=default_country,
        default_timezone=default_timezone,
    )
    quarantine_file = validation.write_quarantine(checked, quarantine_dir / f"{batch_id}.csv")
    return checked, quarantine_file


@task(name="store-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def store(ledger_url: str, record: BatchRecord, checked: validation.Validated) -> StoreStats:
    # One transaction: a retry after a dropped connection starts from a clean slate.
    return store_batch(open_ledger(ledger_url), record, checked.valid)
