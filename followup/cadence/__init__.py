"""When to send and what follows what: the rules of a candidate's cadence, in plain Python (no SQL).

The cadence file's values (spec, file), the calendar and send windows (calendar, windows), the
planner that picks each decision's next step or says why none is due (planner), and where a
message goes whose window closed (missed); the stages ask these rules and the store writes what
they decide.
"""

from followup.cadence.steps import message_key

__all__ = ["message_key"]
