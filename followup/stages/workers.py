"""The render and send stages' worker processes, forked from one server process that has imported
their modules once, instead of each spawned as a new interpreter that imports them again.

    start_early()                        # at a campaign's start: the server imports meanwhile
    with context().Pool(2) as pool: ...  # workers forked at once, the modules already loaded

A spawned worker took 1.1-2 s here before it could render or send (a new interpreter and its
imports, about 1 s of CPU each), and a big campaign starts four of them at once, just as its
first messages are due. Forked from the server they are ready in about 30 ms. Forking from the
server, never from the calling process, is what keeps this safe beside the threads Prefect runs:
the server is a fresh, single-threaded interpreter. A worker still starts in the caller's working
directory and sys.path (multiprocessing sends both); its environment is the server's, from when
it started, and no worker reads the environment (settings travel as arguments).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import BaseContext

# What the workers run, and the caller's main module (as a spawned worker imports it too).
_PRELOAD = ["__main__", "followup.stages.rendering", "followup.stages.sending", "followup.transports.sendgrid"]


def context() -> BaseContext:
    """The multiprocessing context the stages' pools come from."""
    found = multiprocessing.get_context("forkserver")
    found.set_forkserver_preload(_PRELOAD)
    return found


def start_early() -> None:
    """Start the server now, without waiting for it: its imports run on another core while this
    process goes on (importing and planning a batch); the first pool waits only for what is left."""
    context()
    forkserver.ensure_running()
