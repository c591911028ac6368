"""Sending: the send loop and its policy, envelopes, routing by channel, the daily cap.

    setup = SendSetup.of(settings)                  # at the entry point
    report = send_due(engine, router_for(setup), EnvelopeBuilder(setup.from_email),
                      owner=Owner.current(), policy=setup.policy, business_now=now)

- loop.py: send_due, the just-in-time claim loop (exactly once, DESIGN.md "The message ledger")
- policy.py: SendPolicy (concurrency, rate, attempts, backoff, pause) and SendReport
- envelopes.py: the Envelope of a claimed ledger row (custom_args, categories, Reply-To)
- routing.py: each envelope to the delivery its channel declares (email transport, call sheet)
- daily_cap.py: FOLLOWUP_DAILY_CAP, counted per company day over every sender
- setup.py: what sending needs from the settings (SendSetup, EmailSetup) and its refusals

The send stage that runs it in one or more processes is followup.stages.sending.
"""

from followup.sending.loop import send_due
from followup.sending.policy import SendPolicy, SendReport

__all__ = ["SendPolicy", "SendReport", "send_due"]
