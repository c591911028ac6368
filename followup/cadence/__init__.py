"""When to send and what follows what: the rules of a candidate's cadence, in plain Python (no SQL).

Today a decision gets one message, its first step: an offer or a rejection on the candidate's
channel, due at once. The follow-up steps, send windows in the candidate's zone and stop rules
grow here; the stages ask these rules and the store writes what they decide.
"""

from followup.cadence.steps import FIRST_KIND, FirstStep, first_step, message_key

__all__ = ["FIRST_KIND", "FirstStep", "first_step", "message_key"]
