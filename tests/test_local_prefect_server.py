"""The local Prefect server: `followup server start|status|stop` as a user runs them, every later
command finding it (and recording its flow runs there), and finding it never overriding a Prefect
API the user configured."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from followup.cli import local_prefect
from followup.samples import ensure_sample
from tests.conftest import without_user_settings
from tests.prefect_server import answers as prefect_api_answers
from tests.prefect_server import api as prefect_api
from tests.prefect_server import free_port
from tests.test_cli_process import followup


def flow_runs(api: str) -> list[dict]:
    return prefect_api(api, "/flow_runs/filter", {})


@pytest.fixture
def own_home(tmp_path):
    """A child environment with a Prefect home of its own and no Prefect API: what a user's shell
    has. Whatever the test leaves running there is stopped afterwards."""
    home = tmp_path / "prefect-home"
    env = {**without_user_settings(os.environ), "FOLLOWUP_DATA_DIR": str(tmp_path / "data"), "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    yield env
    pid = local_prefect.server_pid(home)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def test_start_status_stop_and_an_import_in_between_records_its_flow_run_there(tmp_path, own_home):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    assert followup("server", "status", env=own_home).returncode == 1

    started = followup("server", "start", "--port", str(port), env=own_home)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"Prefect server running: http://127.0.0.1:{port}"
    status = followup("server", "status", "--json", env=own_home)
    assert status.returncode == 0 and json.loads(status.stdout)["url"] == api
    again = followup("server", "start", "--port", str(port), env=own_home)
    assert again.returncode == 0 and "running already" in again.stdout

    # No PREFECT_API_URL anywhere: the import finds the server by itself. A proxy that answers
    # nothing must not be on the way to 127.0.0.1 (Prefect's client would use it).
    sample = ensure_sample(tmp_path / "data")
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    done = followup("import", str(sample), "--json", env={**own_home, "HTTP_PROXY": dead_proxy, "http_proxy": dead_proxy})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "imported"
    [run] = flow_runs(api)
    assert run["state_type"] == "COMPLETED" and run["parameters"]["path"] == str(sample)

    stopped = followup("server", "stop", env=own_home)
    assert stopped.returncode == 0, stopped.stderr
    assert not prefect_api_answers(api)
    assert not (tmp_path / "prefect-home" / local_prefect.RECORD_NAME).exists()
    assert followup("server", "status", env=own_home).returncode == 1


def test_start_on_a_port_in_use_says_so_and_leaves_nothing_recorded(tmp_path, own_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = followup("server", "start", "--port", str(taken.getsockname()[1]), env=own_home)
    assert done.returncode == 1
    assert "is already in use" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "prefect-home" / local_prefect.RECORD_NAME).exists()


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"true" if self.path == "/api/health" else b"no"
        self.send_response(200 if body == b"true" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorded_server(tmp_path, monkeypatch):
    """A stand-in that answers /api/health, recorded in a Prefect home of its own, in a process
    where Prefect is not loaded and no Prefect API is configured."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api"
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "NO_PROXY", "no_proxy",
                 "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "prefect.settings", raising=False)
    (tmp_path / local_prefect.RECORD_NAME).write_text(json.dumps({"url": url}), encoding="utf-8")
    yield url
    server.shutdown()
    server.server_close()


def test_a_recorded_server_that_answers_becomes_the_prefect_api(recorded_server):
    assert local_prefect.use_local_server() == recorded_server
    assert os.environ["PREFECT_API_URL"] == recorded_server
    assert "NO_PROXY" not in os.environ  # no proxy set: nothing to bypass


def test_with_a_proxy_set_loopback_is_kept_out_of_it(recorded_server, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "intranet.example")
    assert local_prefect.use_local_server() == recorded_server
    assert os.environ["no_proxy"] == "intranet.example,127.0.0.1" and os.environ["NO_PROXY"] == "127.0.0.1"


def test_a_configured_api_is_never_overridden(recorded_server, monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_API_URL", "https://prefect.example/api")
    assert local_prefect.use_local_server() is None
    assert os.environ["PREFECT_API_URL"] == "https://prefect.example/api"

    # ...nor one the active Prefect profile names (`prefect profile use local` selects a shipped one),
    monkeypatch.delenv("PREFECT_API_URL")
    (tmp_path / "profiles.toml").write_text('active = "local"\n', encoding="utf-8")
    assert local_prefect.use_local_server() is None and "PREFECT_API_URL" not in os.environ
    (tmp_path / "profiles.toml").write_text('active = "ephemeral"\n', encoding="utf-8")
    assert local_prefect.use_local_server() == recorded_server
    monkeypatch.delenv("PREFECT_API_URL")

    # ...nor the settings of a process that has loaded Prefect already (a test harness): in a
    # process of its own, since swapping this one's prefect.settings would pull it from under the
    # Prefect log and event threads that earlier tests left running (seen: an APILogWorker died).
    loaded = (
        "import os\n"
        "from prefect.settings import PREFECT_API_URL, temporary_settings\n"
        "from followup.cli import local_prefect\n"
        "with temporary_settings({PREFECT_API_URL: 'http://127.0.0.1:1/api'}):\n"
        "    print(local_prefect.use_local_server(), os.environ.get('PREFECT_API_URL'))\n"
    )
    done = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PREFECT_HOME": str(tmp_path)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "None"]


def test_nothing_answering_or_a_record_off_loopback_leaves_the_temporary_server(recorded_server, tmp_path):
    record = tmp_path / local_prefect.RECORD_NAME
    record.write_text(json.dumps({"url": f"http://127.0.0.1:{free_port()}/api"}), encoding="utf-8")
    assert local_prefect.use_local_server() is None
    record.write_text(json.dumps({"url": "http://prefect.example:4200/api"}), encoding="utf-8")
    assert local_prefect.recorded() is None and local_prefect.use_local_server() is None
    record.write_text("not json", encoding="utf-8")
    assert local_prefect.use_local_server() is None
    assert "PREFECT_API_URL" not in os.environ
