"""prefect.yaml deployed as a user deploys it: `prefect deploy --all` against a Prefect server of
its own on a free port, then every deployment and its schedule read back from the server's API."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.prefect_server import PREFECT, api, local_prefect_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    with local_prefect_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


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
