"""The local Prefect server that `followup server start` leaves running, and how every later
command finds it.

Without a Prefect API configured, each flow run starts Prefect's temporary server and stops it
again: about 15 s of a small import. A server started once and found in a few milliseconds
saves that. Finding it must never cost a command more than that, never leave the machine, and
never take a run away from a Prefect API the user configured, so:

- it is the server recorded in this Prefect home (PREFECT_HOME, default ~/.prefect) by
  `followup server start`, never whatever answers on a well-known port: on a shared machine that
  could be someone else's, and would get our flow runs;
- it is on loopback, reached by a plain socket that no proxy variable can route elsewhere;
- PREFECT_API_URL in the environment, in the active Prefect profile, or in the settings of a
  process that has loaded Prefect already (a test harness) wins over it.

Standard library only: this runs before every command, and Prefect takes a second to import.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

HOST = "127.0.0.1"
DEFAULT_PORT = 4200  # Prefect's own
RECORD_NAME = "followup-server.json"
# Refused at once on loopback when nothing listens; the budget is for a listener that hangs.
CONNECT_TIMEOUT_S = 0.05
# A server busy with a flow run can take a moment to answer; past this the command goes on without it.
HEALTH_TIMEOUT_S = 2.0
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Recorded:
    url: str  # the API's base, e.g. http://127.0.0.1:4200/api
    pid: int | None  # the server process, from Prefect's own pid file

    @property
    def dashboard(self) -> str:
        return self.url.removesuffix("/api")


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


def record_path(home: Path | None = None) -> Path:
    return (home or prefect_home()) / RECORD_NAME


def pid_path(home: Path | None = None) -> Path:
    return (home or prefect_home()) / "server.pid"  # where `prefect server start --background` writes it


def api_url(port: int) -> str:
    return f"http://{HOST}:{port}/api"


def recorded(home: Path | None = None) -> Recorded | None:
    """The server `followup server start` recorded in this Prefect home, answering or not."""
    try:
        url = json.loads(record_path(home).read_text(encoding="utf-8"))["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or urlsplit(url).hostname not in _LOOPBACK:
        return None  # only ever loopback, whoever edited the file
    return Recorded(url, server_pid(home))


def server_pid(home: Path | None = None) -> int | None:
    try:
        return int(pid_path(home).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def answers(url: str, connect_timeout: float = CONNECT_TIMEOUT_S, timeout: float = HEALTH_TIMEOUT_S) -> bool:
    """Whether the Prefect API at `url` (loopback) is up: a short connect, then GET <url>/health.

    http.client on a socket of our own: no *_proxy variable is consulted, so 127.0.0.1 is reached
    directly."""
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK or parts.port is None:
        return False
    try:
        sock = socket.create_connection((parts.hostname, parts.port), timeout=connect_timeout)
    except OSError:
        return False
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    connection.sock = sock
    sock.settimeout(timeout)
    try:
        connection.request("GET", parts.path.rstrip("/") + "/health")
        answer = connection.getresponse()
        return answer.status == 200 and answer.read().strip() == b"true"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _api_url_configured() -> bool:
    if os.environ.get("PREFECT_API_URL"):
        return True
    if "prefect.settings" in sys.modules:  # loaded already: its settings in effect decide
        return sys.modules["prefect.settings"].get_current_settings().api.url is not None
    # The user's profiles file over the ones Prefect ships (`prefect profile use local` names a
    # shipped profile that sets PREFECT_API_URL), read as Prefect reads them.
    shipped = importlib.util.find_spec("prefect")
    files = [Path(shipped.submodule_search_locations[0]) / "settings" / "profiles.toml"] if shipped else []
    files.append(Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml").expanduser())
    active, profiles = None, {}
    for path in files:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        active = document.get("active", active)
        for name, values in document.get("profiles", {}).items():
            profiles[name] = {**profiles.get(name, {}), **values}
    active = os.environ.get("PREFECT_PROFILE") or active
    return bool(profiles.get(active, {}).get("PREFECT_API_URL"))


def bypass_proxies_for_loopback() -> None:
    """Prefect's client (httpx) sends 127.0.0.1 through HTTP(S)_PROXY unless NO_PROXY names it."""
    if not any(os.environ.get(name) for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                                                 "http_proxy", "https_proxy", "all_proxy")):  # fmt: skip
        return
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [host for host in os.environ.get(name, "").split(",") if host.strip()]
        if HOST not in (host.strip() for host in hosts):
            os.environ[name] = ",".join([*hosts, HOST])


def use_local_server() -> str | None:
    """Point Prefect at the recorded local server when it answers and no API is configured;
    its URL, or None (then a flow run starts Prefect's temporary server, as without this)."""
    if _api_url_configured():
        return None
    found = recorded()
    if found is None or not answers(found.url):
        return None
    os.environ["PREFECT_API_URL"] = found.url
    bypass_proxies_for_loopback()
    return found.url
