"""`followup` as a separate process, the way a recruiter's terminal and a cron job see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from followup.samples import ensure_sample


def test_import_in_a_fresh_process_prints_only_what_the_user_needs(tmp_path):
    """No GX progress bars, no Prefect start-up or shutdown chatter, and --json alone on stdout."""
    sample = ensure_sample(tmp_path / "data")
    env = {
        **os.environ,
        "FOLLOWUP_DATA_DIR": str(tmp_path / "data"),
        # A Prefect home of its own: the run starts (and stops) its own temporary server.
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    for noisy in ("PREFECT_LOGGING_LEVEL", "PREFECT_API_URL"):
        env.pop(noisy, None)
    done = subprocess.run(
        [sys.executable, "-m", "followup.cli", "import", str(sample), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["status"] == "imported" and summary["quarantined"] > 0
    for noise in ("Calculating Metrics", "Traceback", "temporary server", "Finished in state", "it/s"):
        assert noise not in done.stderr, done.stderr

    # A refused file is an answer, not a failed Prefect task: no task-run error, no traceback.
    headless = tmp_path / "no-columns.csv"
    headless.write_text("Name,Mail\nAnn,ann@example.com\n", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "followup.cli", "import", str(headless), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert refused.returncode == 2 and json.loads(refused.stdout)["status"] == "refused"
    assert refused.stderr.startswith("Refused: no-columns.csv is missing required columns"), refused.stderr
    for noise in ("Traceback", "prefect", "Finished in state"):
        assert noise not in refused.stderr, refused.stderr
