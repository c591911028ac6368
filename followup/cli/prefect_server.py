"""`followup server start|status|stop`: a local Prefect server started once, which every later
command records its flow runs on instead of starting Prefect's temporary server each time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from followup.cli.common import EXIT_DONE, EXIT_FAILURE, JsonOption, app, err, out
from followup.cli.local_prefect import (
    DEFAULT_PORT,
    HOST,
    answers,
    api_url,
    pid_path,
    prefect_home,
    record_path,
    recorded,
    server_pid,
)

server_app = typer.Typer(
    help="A local Prefect server, started once: every later command records its flow runs there "
    "instead of starting a temporary one (about 15 s each).",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")

_STOP_WAIT_S = 30.0


@server_app.command("start")
def start(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1 to listen on.")] = DEFAULT_PORT,
    wait: Annotated[
        float, typer.Option("--wait", min=1.0, help="Seconds to wait for it to answer (the first start sets up its database).")
    ] = 120.0,
) -> None:
    """Start Prefect's server in the background on 127.0.0.1 and wait until it answers.

    It keeps its database in the Prefect home (PREFECT_HOME, default ~/.prefect) and is found by
    every followup command run with the same home; `prefect server start --background` is what
    runs it, so `prefect server stop` stops it too. Prints the dashboard's address.
    """
    home = prefect_home()
    found = recorded(home)
    if found is not None and answers(found.url):
        out.print(f"A local Prefect server is running already: {found.dashboard}", markup=False)
        raise typer.Exit(EXIT_DONE)
    _forget_a_dead_server(home)
    home.mkdir(parents=True, exist_ok=True)
    url = api_url(port)
    # Prefect's analytics stay off (the command line's default); its own PREFECT_API_URL is not
    # for the server it starts.
    env = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    done = _prefect("server", "start", "--host", HOST, "--port", str(port), "--background", env=env)
    if done.returncode != 0:
        _fail(f"Prefect did not start its server: {_last_words(done.stdout + done.stderr)}")
    record_path(home).write_text(json.dumps({"url": url}) + "\n", encoding="utf-8")
    pid = server_pid(home)
    with err.status("Waiting for the Prefect server to answer…", spinner="dots"):
        deadline = time.monotonic() + wait
        while not answers(url):
            if pid is None or not _alive(pid) or time.monotonic() > deadline:
                _terminate(pid)
                _forget(home)
                why = "it stopped while starting" if pid is None or not _alive(pid) else f"no answer within {wait:g} s"
                _fail(f"The Prefect server on port {port} did not start ({why}); `prefect server start --host {HOST} "
                      f"--port {port}` in the foreground shows why.")  # fmt: skip
            time.sleep(0.25)
    out.print(f"Prefect server running: {url.removesuffix('/api')}", markup=False)
    err.print(f"followup commands with this Prefect home ({home}) record their flow runs there; "
              "`followup server stop` stops it.", markup=False)  # fmt: skip


@server_app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Whether the local Prefect server of this Prefect home answers (exit code 0) or not (1)."""
    home = prefect_home()
    found = recorded(home)
    running = found is not None and answers(found.url)
    if as_json:
        document = {"running": running, "url": found.url if running else None, "pid": found.pid if running else None,
                    "prefect_home": str(home)}  # fmt: skip
        sys.stdout.write(json.dumps(document) + "\n")
    elif running:
        pid = f" (pid {found.pid})" if found.pid is not None else ""
        out.print(f"Prefect server running: {found.dashboard}{pid}; flow runs are recorded there.", markup=False)
    else:
        out.print("No local Prefect server is running: each flow run starts a temporary one "
                  "(`followup server start` starts one).", markup=False)  # fmt: skip
    raise typer.Exit(EXIT_DONE if running else EXIT_FAILURE)


@server_app.command("stop")
def stop() -> None:
    """Stop the local Prefect server; later commands start a temporary one for each flow run again."""
    home = prefect_home()
    found, pid = recorded(home), server_pid(home)
    if pid is None:
        _forget(home)
        out.print("No local Prefect server runs from this Prefect home.", markup=False)
        raise typer.Exit(EXIT_DONE)
    done = _prefect("server", "stop", env=dict(os.environ))
    if done.returncode != 0:
        _fail(f"Prefect did not stop its server: {_last_words(done.stdout + done.stderr)}")
    deadline = time.monotonic() + _STOP_WAIT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):  # SIGTERM ignored: the port must be free for the next start
        _terminate(pid, signal.SIGKILL)
    _forget(home)
    where = f" at {found.dashboard}" if found else ""
    out.print(f"Stopped the local Prefect server{where}.", markup=False)


def _prefect(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # Wide enough that Prefect's refusal ("Port 4200 is already in use...") stays on one line.
    return subprocess.run([sys.executable, "-m", "prefect", *args], env={**env, "COLUMNS": "1000"},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def _alive(pid: int) -> bool:
    """Whether `pid` runs. Not our child, so never waited for: where no init reaps it, a zombie
    (state Z in /proc) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal said it runs
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _terminate(pid: int | None, sig: signal.Signals = signal.SIGTERM) -> None:
    if pid is not None and _alive(pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _forget_a_dead_server(home: Path) -> None:
    """Prefect refuses to start while its pid file exists, even when that process died (a reboot)."""
    pid = server_pid(home)
    if pid is not None and not _alive(pid):
        _forget(home)


def _forget(home: Path) -> None:
    record_path(home).unlink(missing_ok=True)
    pid_path(home).unlink(missing_ok=True)


def _last_words(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def _fail(message: str):
    err.print(message, markup=False)
    raise typer.Exit(EXIT_FAILURE)
