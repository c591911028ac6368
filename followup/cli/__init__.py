"""`followup`: the command line, and the composition root.

This is the one core module that reaches up into flows/; it imports them inside the commands
that run them, so `followup --help` stays fast and never starts Prefect.
"""

from __future__ import annotations

import gc
import sys

# Each module registers its commands on the one app, in the order `followup --help` lists them.
from followup.cli import batches, outcomes, events, demo, messages, delivery, timeline, engagement, report, servers, prefect_server  # noqa: F401  (imported for their commands)
from followup.cli.common import app, err


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    finally:
        # The command is done: what it loaded (pandas, Prefect, Great Expectations) is left out of
        # the collector's passes at exit, which otherwise cost a small import 1-3 s of its end.
        # Exit handlers (Prefect's drains) run as before; only the final search for reference
        # cycles skips those objects, whose finalizers Python never promises at exit anyway.
        gc.freeze()
