"""`python -m followup.sandbox`: how `Sandbox(process=True)` starts its child process.

People use `followup sandbox`; this entry exists so the child needs no Typer app, takes the
whole configuration as one JSON argument, and ends when its parent closes its stdin (or dies),
so a crashed test run leaves no server behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

from followup.sandbox.app import SandboxConfig
from followup.sandbox.server import serve


def _exit_with_parent() -> None:
    sys.stdin.buffer.read()  # returns at end of file: the parent closed the pipe or is gone
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m followup.sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--config", default="{}", help="SandboxConfig fields as a JSON object")
    args = parser.parse_args()
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    serve(args.host, args.port, SandboxConfig(**json.loads(args.config)))


if __name__ == "__main__":
    main()
