"""The candidate batch suite (Great Expectations) and the row-level quarantine.

validate_batch() turns a RawBatch into typed good rows and a quarantine: one row per bad
record with the failing columns, a reason a recruiter can act on, and the record's cells
under the file's own headers, so the source can be fixed and imported again. It is two
steps, each public for the benchmark's floor: prepare() derives the typed rows and the
checks frame, run_suite() runs the GX suite over the checks frame. A file of recorded outcomes
is checked by validation.outcomes into the same Validated shape, quarantine and gate.

Why this shape (measured with GX 1.24 on the 2-core benchmark machine, 1M rows):

- Whatever needs parsing or normalising (dates in the row's time zone, salaries, E.164
  phones, time zone names, lengths, control characters) is derived first, vectorised with
  pandas, pyarrow and numpy (derive.py, checks.py). The typed columns become `valid`.
- GX validates a compact checks frame (RangeIndex, one row per record) with result_format
  COMPLETE; `unexpected_index_list` holds integer positions, mapped back with numpy. Naming
  index columns instead makes GX loop over rows in Python.
- GX's pandas engine copies the whole frame three or four times for each expectation whose
  column holds nulls (one boolean filter per metric) and once per metric for a row_condition
  (DataFrame.query): about a second per such expectation at a million rows. So real value
  expectations (not null, unique, regex, in set) check the required columns, which are
  complete in any usable batch, and each rule on optional or derived values is a "problem"
  column (the offending value where the rule fails, null elsewhere) with
  ExpectColumnValuesToBeNull. Data Docs show every rule with its count and offending values.
- GX fingerprints each batch by hashing every cell (about 0.2 s per text column at 1M rows)
  for a batch marker nothing here reads: switched off.
- The context and suite are built once per process. Data Docs are built from the result
  without its full unexpected lists, so they stay small for big batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from followup.importing import RawBatch, ReadLimits
from followup.validation.checks import Prepared, prepare
from followup.validation.quarantine import find_failures, quarantine_frame, write_quarantine
from followup.validation.rules import (
    CHANNELS, COUNTRIES, CURRENCIES, DATE_COLUMNS, DECISIONS, EMAIL_PATTERN, MAX_LENGTH, RULES, SALARY_COLUMNS,
    SUITE_NAME, SUITE_VERSION, TYPED_COLUMNS,
)  # fmt: skip
from followup.validation.suite import check_batch_id, prepare_in_background, run_suite

__all__ = [
    "CHANNELS", "COUNTRIES", "CURRENCIES", "DATE_COLUMNS", "DECISIONS", "EMAIL_PATTERN", "MAX_LENGTH", "RULES",
    "SALARY_COLUMNS", "SUITE_NAME", "SUITE_VERSION", "TYPED_COLUMNS", "Prepared", "Validated", "gate_reason",
    "prepare", "prepare_in_background", "run_suite", "validate_batch", "write_quarantine",
]  # fmt: skip

_MIN_RUN = 32  # good rows per run, on average, for `valid` to slice text rather than copy it


@dataclass
class Validated:
    valid: pd.DataFrame  # good records, typed; its text may be slices of the RawBatch's Arrow buffers (see _keep)
    quarantine: pd.DataFrame
    rows: int
    data_docs: Path | None

    @property
    def bad_share(self) -> float:
        return len(self.quarantine) / self.rows if self.rows else 0.0


def _keep(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows where `keep`, renumbered.

    Arrow-backed text is sliced where the good rows come in long runs (bad records are rare):
    each run is a zero-copy slice of the chunk it lies in, so `valid` shares its text with the
    batch read from the file rather than holding a second copy (~0.5 GB at 1M rows). Short runs
    would leave so many chunks that every later Arrow call pays for them; then the column is
    filtered, one copying call per column (pandas' boolean indexing costs ~3x as much).
    """
    kept = int(keep.sum())
    edges = np.flatnonzero(np.diff(keep, prepend=False, append=False))  # where runs of good rows start and end
    slices = len(edges) // 2 * _MIN_RUN <= kept
    mask = None if slices else pa.array(keep)
    plans: dict[tuple[int, ...], list[tuple[int, int, int]]] = {}  # columns read together share a chunk layout
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if isinstance(values.dtype, pd.StringDtype) and hasattr(values.array, "__arrow_array__"):
            text = values.array.__arrow_array__()
            if slices:
                chunks = text.chunks
                layout = tuple(len(chunk) for chunk in chunks)
                if layout not in plans:
                    plans[layout] = _pieces(layout, keep, edges)
                text = pa.chunked_array([chunks[c].slice(at, size) for c, at, size in plans[layout]], type=text.type)
            else:
                text = text.filter(mask)
            columns[name] = pd.array(text, dtype=values.dtype)
        else:
            columns[name] = values.array[keep]
    return pd.DataFrame(columns, index=pd.RangeIndex(kept), copy=False)  # the columns are new (or Arrow slices)


def _pieces(layout: tuple[int, ...], keep: np.ndarray, edges: np.ndarray) -> list[tuple[int, int, int]]:
    """(chunk, offset, length) of each piece of the good rows, for chunks of these lengths:
    runs of good rows cut where a chunk ends."""
    bounds = np.cumsum([0, *layout])
    cuts = np.union1d(edges, bounds)
    starts, ends = cuts[:-1], cuts[1:]
    starts, ends = starts[keep[starts]], ends[keep[starts]]
    chunk = np.searchsorted(bounds, starts, side="right") - 1
    return list(zip(chunk.tolist(), (starts - bounds[chunk]).tolist(), (ends - starts).tolist()))


def validate_batch(
    raw: RawBatch,
    *,
    batch_id: str,
    docs_dir: Path | None,
    default_country: str | None = None,
    default_timezone: str | None = None,
    max_cell_chars: int = ReadLimits().max_cell_chars,
    suite: Callable[[pd.DataFrame, str, Path | None], tuple[dict[str, np.ndarray], Path | None]] = run_suite,
) -> Validated:
    """Check every record: typed good rows in `valid`, the others (and malformed records) in `quarantine`.

    Naive dates are wall time in the row's timezone, else `default_timezone`, else UTC;
    national phone numbers are read for the row's country, else `default_country`. A cell
    longer than `max_cell_chars` fails its record, and is cut to that length in the quarantine.
    `suite`: run_suite, or what runs it elsewhere (followup.stages.workers).
    """
    check_batch_id(batch_id)  # before the work, not after it
    prepared = prepare(raw, default_country, default_timezone, max_cell_chars)
    failing, docs = suite(prepared.checks, batch_id, docs_dir)
    failures = find_failures(raw, prepared, failing)
    good = np.ones(len(raw.frame), dtype=bool)
    good[failures.index.to_numpy()] = False
    return Validated(
        valid=_keep(prepared.typed, good),
        quarantine=quarantine_frame(raw, failures, max_cell_chars),
        rows=len(raw.frame) + len(raw.malformed),
        data_docs=docs,
    )


def gate_reason(validated: Validated, max_bad_share: float, what: str = "batch") -> str | None:
    """Why the whole file (`what`: a batch, an outcome file) is refused when more than `max_bad_share`
    of its records are bad, else None."""
    if validated.bad_share <= max_bad_share:
        return None
    most = ""
    if "reason" in validated.quarantine and len(validated.quarantine):
        # Said here, not only in the quarantine file: a one-row mistake (an unknown id) should not
        # need the file opened to be understood.
        reason, n = next(iter(validated.quarantine["reason"].value_counts().items()))
        most = f" The most common problem ({n:,} of them): {reason}."
    return (
        f"{len(validated.quarantine):,} of {validated.rows:,} records ({validated.bad_share:.1%}) failed "
        f"validation, more than the {max_bad_share * 100:g}% allowed, so the whole {what} was refused.{most} "
        f"Fix the records listed in the quarantine file and import the {what} again."
    )
