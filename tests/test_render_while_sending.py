"""A big campaign sends its first messages while the rest are still rendered (followup.stages.overlap):
the senders wait for what rendering brings, and every message still goes out exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

import tasks.rendering
from flows.campaign import run_campaign
from followup.samples import SAMPLE_NOW, generate_batch, write_batch
from followup.sandbox import Sandbox, SandboxConfig
from followup.stages import rendering
from followup.stages.overlap import rendering_underway
from followup.store import open_ledger
from tests.test_campaign import KEY, ledger, settings_for
from tests.test_delivery import Scripted, run, seed, statuses


def test_a_sender_waits_for_messages_rendered_while_it_runs_and_sends_each_once(ledger_url):
    engine = open_ledger(ledger_url)
    first = seed(engine, 5)
    later: list[str] = []
    transport = Scripted({}, delay=0.01)

    with rendering_underway() as underway:

        def render_in_waves() -> None:
            for wave in range(3):
                time.sleep(0.3)  # the sender has sent what there was and found nothing due
                later.extend(seed(engine, 5, start=5 + 5 * wave))
            underway.finish()  # at once after the last wave: the sender must still look once more

        renderer = threading.Thread(target=render_in_waves)
        renderer.start()
        report = run(engine, transport, more_coming=underway)
        renderer.join()

    assert report.sent == 20 and transport.calls == Counter({key: 1 for key in first + later})
    assert statuses(engine) == Counter({"sent": 20})


def test_without_anything_more_coming_a_sender_finishes_when_nothing_is_due(ledger_url):
    engine = open_ledger(ledger_url)
    seed(engine, 3)
    with rendering_underway() as underway:
        underway.finish()
        report = run(engine, Scripted({}), more_coming=underway)
    assert report.sent == 3


@pytest.mark.usefixtures("prefect_harness")
def test_a_big_campaign_sends_while_rendering_and_every_message_goes_out_once(ledger_url, tmp_path, monkeypatch):
    # A big campaign's path, on a batch small enough for a test: rendered over two processes in
    # chunks of 40 while two sender processes take what is rendered.
    monkeypatch.setattr(tasks.rendering, "PARALLEL_FROM", 100)
    monkeypatch.setattr(rendering, "CHUNK", 40)
    frame = generate_batch(240, seed=12, bad_share=0.0, channel_mix=(1.0, 0.0, 0.0), now=SAMPLE_NOW)
    path = write_batch(frame, tmp_path / "round.csv")
    with Sandbox(SandboxConfig(api_key=KEY, latency_ms=20)) as sandbox:
        settings = settings_for(tmp_path, ledger_url, sandbox, senders=2, send_concurrency=4, render_processes=2)
        state = run_campaign(path, "big", None, settings, SAMPLE_NOW, return_state=True)
        keys = Counter(m["body"]["custom_args"]["message_key"] for m in sandbox.messages())

    summary = state.result()
    assert summary.exit_code() == 0 and summary.planned > 200 and summary.rendered == summary.planned
    assert summary.counts == {"sent": summary.planned}
    assert set(keys) == set(ledger(ledger_url)) and set(keys.values()) == {1}
    runs = task_runs(state.state_details.flow_run_id)
    assert runs["send-due"].start_time < runs["render-messages-in-processes"].end_time


def task_runs(flow_run_id) -> dict:
    """The flow run's task runs by name (without the suffix Prefect adds)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_task_runs(task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id])))
    return {run.name.rsplit("-", 1)[0]: run for run in found}
