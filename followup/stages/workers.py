"""The stages' worker processes, forked from one server process that has imported their modules
once, instead of each spawned as a new interpreter that imports them again.

    start_early(validation=True)         # at a campaign's start: the server imports meanwhile
    with context().Pool(2) as pool: ...  # workers forked at once, the modules already loaded

A spawned worker took 1.1-2 s here before it could render or send (a new interpreter and its
imports, about 1 s of CPU each), and a big campaign starts four of them at once, just as its
first messages are due. Forked from the server they are ready in about 30 ms. Forking from the
server, never from the calling process, is what keeps this safe beside the threads Prefect runs:
the server is a fresh, single-threaded interpreter. A worker still starts in the caller's working
directory and sys.path (multiprocessing sends both); its environment is the server's, from when
it started, and no worker reads the environment (settings travel as arguments).

Started early with `validation`, the server imports Great Expectations too (2.8 s of one core
here), on the other core while this process reads the batch, and the suite then runs in a worker
forked from it (run_suite): the checks frame it takes is a few MB, pickled in milliseconds.
"""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from pathlib import Path

# What the render and send workers run, and the caller's main module (a spawned worker imports
# it too).
_WORKERS = ["__main__", "followup.stages.rendering", "followup.stages.sending", "followup.transports.sendgrid"]
# The suite's module first: it turns Great Expectations' analytics off before GX is imported.
_VALIDATION = ["followup.validation.suite", "great_expectations"]

_with_validation: bool | None = None  # what the server this process started preloads; None: not started


def _server(validation: bool) -> BaseContext:
    global _with_validation
    found = multiprocessing.get_context("forkserver")
    if _with_validation is None:
        # Validation first (after the caller's main module, which multiprocessing always imports
        # first): it is needed seconds before the first render or send.
        found.set_forkserver_preload((_VALIDATION if validation else []) + _WORKERS)
        _with_validation = validation
    forkserver.ensure_running()  # returns once the server is launched, before its imports end
    return found


def context() -> BaseContext:
    """The multiprocessing context the stages' pools come from (the server started if need be)."""
    return _server(validation=False)


def start_early(validation: bool = False) -> None:
    """Start the server now, without waiting for it: its imports run on another core while this
    process goes on (importing and planning a batch); the first pool waits only for what is left.
    `validation`: Great Expectations too, for validate_batch's suite (see run_suite)."""
    _server(validation)


def suite_in_worker() -> bool:
    """Whether the suite is cheaper in a worker: the server has Great Expectations loaded and this
    process has not (once it has, running here costs nothing more)."""
    return bool(_with_validation) and "great_expectations" not in sys.modules


def run_suite(checks, batch_id: str, docs_dir: Path | None):
    """followup.validation.run_suite in a worker forked from the server; the same answer, or the
    same exception."""
    from followup.validation.suite import run_suite as here

    with context().Pool(1) as pool:
        return pool.apply(here, (checks, batch_id, docs_dir))
