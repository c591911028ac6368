"""`followup`: the command line, and the composition root.

This is the one core module that reaches up into flows/; it imports them inside the commands
that run them, so `followup --help` stays fast and never starts Prefect.
"""

from __future__ import annotations

import gc
import signal
import sys

from rich.markup import escape

# Each module registers its commands on the one app, in the order `followup --help` lists them.
from followup.cli import batches, outcomes, events, demo, messages, delivery, timeline, engagement, report, servers, prefect_server  # noqa: F401  (imported for their commands)
from followup.cli.common import EXIT_FAILURE, app, err
from followup.logs import mask_email


def _ledger_unreachable(exc: BaseException) -> str | None:
    """The driver's own words when `exc` says the database is down, refuses us or is locked past
    the wait; else None. Only the driver's first line: SQLAlchemy's message adds the statement
    and its parameters, which may hold candidates' data."""
    errors = sys.modules.get("sqlalchemy.exc")  # loaded by whatever raised it; never loaded here
    if errors is None or not isinstance(exc, errors.OperationalError):
        return None
    return mask_email(str(exc.orig or exc).strip().splitlines()[0])


class Terminated(BaseException):
    """SIGTERM (a service manager stopping us, `kill`): unwound like Ctrl-C, so the senders'
    pools close and the user reads one line instead of dying silently by the signal. A
    BaseException, as KeyboardInterrupt is: no `except Exception` on the way may take it for an
    error of its own (a failed task retried, a setting called invalid)."""


def _terminated(signum: int, frame: object) -> None:
    raise Terminated


def main() -> None:
    # Inside a flow run Prefect installs its own handler first (the run is marked crashed), then
    # calls this one: the previous handler, which it restores and signals again.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    except Terminated:
        err.print("Terminated.")
        sys.exit(128 + signal.SIGTERM)
    except Exception as exc:
        problem = _ledger_unreachable(exc)
        if problem is None:
            raise
        err.print(f"[bold red]The ledger could not be reached:[/bold red] {escape(problem)}\n"
                  "What was sent before is recorded. Messages that were in flight are settled by the next "
                  "`followup sweep` (from their events, or marked unknown for `followup reconcile`). Run the "
                  "command again once the database is back.")  # fmt: skip
        sys.exit(EXIT_FAILURE)
    finally:
        # The command is done: what it loaded (pandas, Prefect, Great Expectations) is left out of
        # the collector's passes at exit, which otherwise cost a small import 1-3 s of its end.
        # Exit handlers (Prefect's drains) run as before; only the final search for reference
        # cycles skips those objects, whose finalizers Python never promises at exit anyway.
        gc.freeze()
