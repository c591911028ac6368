"""prefect.yaml deployed as a user deploys it: `prefect deploy --all` against a Prefect server of
its own on a free port, then every deployment and its schedule read back from the server's API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PREFECT = [sys.executable, "-m", "prefect"]
# No proxy: an *_proxy variable in the environment would otherwise route 127.0.0.1 through it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{path}", data=data, headers={"Content-Type": "application/json"})
    with _OPENER.open(request, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A Prefect server with a home of its own (its own SQLite database), stopped afterwards."""
    home, port = tmp_path_factory.mktemp("prefect-home"), free_port()
    base = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_API_URL=base, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING")  # fmt: skip
    log = (home / "server.log").open("w")
    server = subprocess.Popen([*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # a busy 2-core machine can take a while to migrate its database
        while True:
            try:
                api(base, "/health")
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
                time.sleep(0.25)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_prefect_deploy_all_creates_every_deployment_with_its_schedule(prefect_server):
    base, env = prefect_server

    def prefect(*args: str) -> None:
        done = subprocess.run([*PREFECT, *args], cwd=ROOT,
                              env={**env, "FOLLOWUP_HOME": str(ROOT), "FOLLOWUP_TIMEZONE": "Europe/Berlin"},
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    prefect("work-pool", "create", "followup", "--type", "process")
    prefect("--no-prompt", "deploy", "--all")

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployed = {d["name"]: d for d in api(base, "/deployments/filter", {})}
    flows = {f["id"]: f["name"] for f in api(base, "/flows/filter", {})}
    assert set(deployed) == {d["name"] for d in spec["deployments"]}
    for wanted in spec["deployments"]:
        got = deployed[wanted["name"]]
        assert got["work_pool_name"] == "followup"
        assert got["entrypoint"] == wanted["entrypoint"]
        assert flows[got["flow_id"]] == wanted["name"]  # each flow deployed under its own name
        crons = [s["schedule"]["cron"] for s in got["schedules"] if s["active"]]
        assert crons == [s["cron"] for s in wanted.get("schedules", [])]
    # The sweep runs every quarter of an hour around the clock: the send windows, not the cron,
    # decide the local hours a message may go out in.
    assert [s["schedule"]["cron"] for s in deployed["followup-sweep"]["schedules"]] == ["*/15 * * * *"]
    # The report: Mondays at 08:00 where the company is (FOLLOWUP_TIMEZONE when deployed).
    [weekly] = deployed["response-report"]["schedules"]
    assert (weekly["schedule"]["cron"], weekly["schedule"]["timezone"]) == ("0 8 * * 1", "Europe/Berlin")
