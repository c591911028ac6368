"""`followup demo`: a whole round on the sample batch, sent to an in-process sandbox."""

from __future__ import annotations

import shutil
from dataclasses import replace

import typer
from pydantic import SecretStr

from followup.cli.common import JsonOption, app, cadence_or_refuse, err, settings_or_refuse
from followup.cli.summary import print_campaign


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Run a whole round on embedded defaults, sending nothing: a sample ATS export imported,
    validated, and every candidate messaged through a local SendGrid-compatible sandbox.

    The demo keeps its own ledger, call sheets and files under <data dir>/demo/ and starts from
    a clean slate each time, so it never touches your real ledger or your SendGrid account.
    """
    settings = settings_or_refuse()
    cadence = cadence_or_refuse(settings)
    from flows.campaign import run_campaign
    from followup.sandbox import Sandbox, SandboxConfig
    from followup.samples import SAMPLE_NOW, ensure_sample
    from followup.store import close_ledgers

    # The demo runs the timing experiment on a share of its candidates, so the report has arms to compare.
    cadence = replace(cadence, experiment=replace(cadence.experiment, share=DEMO_EXPERIMENT_SHARE))
    demo_dir = settings.data_dir / "demo"
    close_ledgers()  # a pooled connection would keep the old demo ledger alive past its deletion
    shutil.rmtree(demo_dir, ignore_errors=True)
    sample = ensure_sample(settings.data_dir)
    if not as_json:
        err.print(f"Demo batch: {sample}", markup=False)
    with Sandbox(SandboxConfig(api_key=_DEMO_KEY)) as sandbox:
        demo_settings = settings.model_copy(
            update={
                "data_dir": demo_dir,
                "database_url": None,
                "transport": "sendgrid",
                "sendgrid_api_key": SecretStr(_DEMO_KEY),
                "sendgrid_api_host": sandbox.url,
                "from_email": settings.from_email or "recruiting@demo.example",
                "from_name": settings.from_name or "Recruiting (demo)",
                "senders": 1,
                "send_rate": None,
            }
        )
        with err.status("Demo round: importing, rendering, sending to the sandbox…", spinner="dots"):
            summary = run_campaign(sample, "demo", None, demo_settings, SAMPLE_NOW, cadence=cadence)
        accepted = sandbox.stats()["accepted"]
    print_campaign(summary, as_json)
    if not as_json and summary.status != "refused":
        err.print(f"The sandbox accepted {accepted} emails (nothing left this machine). "
                  f"Demo ledger: {demo_settings.ledger_url}", markup=False)  # fmt: skip
    raise typer.Exit(summary.exit_code())


DEMO_EXPERIMENT_SHARE = 0.3
# Any key works with the demo's own sandbox; it only has to match.
_DEMO_KEY = "SG.demo"
