"""`followup`: the command line, and the composition root.

This is the one core module that reaches up into flows/; it imports them inside the commands
that run them, so `followup --help` stays fast and never starts Prefect.
"""

from __future__ import annotations

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
