"""One plain function per stage of a run, each wrapped one to one by a Prefect task (tasks/):

- importing: open, read, validate and store a batch (ImportSetup, ImportSummary)
- planning: the cadence's first step for every decision of a batch (PlanResult)
- rendering: a campaign's planned messages rendered into the ledger (RenderSetup)
- sending: recover what dead senders left, then send what is due (SendSetup in followup.sending)
- summaries: what a campaign run and a sweep report

The stages take small frozen setups, never the whole Settings, and need no Prefect.
"""
