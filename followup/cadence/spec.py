"""What a cadence file says, as frozen values: the steps of each cadence, the send window, the
stop rules' numbers and the timing experiment.

The file itself is read and checked in followup.cadence.file; everything below it (the planner,
the send windows) reads these values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

# The channel a step names when it means "the candidate's own channel" (a rejection goes out on
# the channel the candidate was reached on).
OWN_CHANNEL = "own"
# The first-channel key of a cadence that serves every channel (rejections).
ANY_CHANNEL = "any"
DECISIONS = ("offer", "reject")
# The messages a cadence can send (the template folders are named after them), and which belong
# to which decision: an offer's reasons are strengths and a rejection's are feedback, never crossed.
KINDS = ("offer", "offer_nudge", "rejection", "keep_in_touch", "in_person_invite")
# Each kind's base template variant (templates/<kind>/); an A/B variant is templates/<kind>.<variant>/.
BASE_VARIANT = "a"
KINDS_FOR_DECISION = {
    "offer": ("offer", "offer_nudge", "in_person_invite"),
    "reject": ("rejection", "keep_in_touch"),
}


@dataclass(frozen=True)
class Step:
    """One message of a cadence.

    `channels`: the first of these the candidate can be reached on is used (a voicemail needs a
    phone; an in-person step needs a candidate in the office's country); when none can, email.
    `after_business_days`: counted from the previous step's send, in the candidate's calendar
    (0: the same day, in the next window); `after_weeks` adds whole weeks (keep-in-touch)."""

    kind: str
    channels: tuple[str, ...]
    after_business_days: int = 0
    after_weeks: int = 0


@dataclass(frozen=True)
class Cadence:
    decision: str  # offer | reject
    first_channel: str  # email | voicemail | in_person | any
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Experiment:
    """The timing experiment: `share` of each campaign's candidates get a first message delayed
    by 0..max_delay_days business days, at a random whole hour in [hours[0], hours[1]) local."""

    share: float = 0.0
    max_delay_days: int = 3
    hours: tuple[int, int] = (8, 18)


@dataclass(frozen=True)
class CadenceSpec:
    cadences: tuple[Cadence, ...]
    send_window: tuple[time, time] = (time(9, 0), time(17, 0))
    # Windows only on the candidate's business days (weekends and public holidays skipped). A team
    # that may write at any hour sets this off with a 00:00-24:00 window (24:00 is time.max).
    business_days_only: bool = True
    # A rejection waits this many business days after the decision: a day to prepare.
    reject_delay_business_days: int = 1
    # An out-of-office reply without a return date postpones the next step by this many.
    out_of_office_business_days: int = 3
    # Weeks after a rejection for the keep-in-touch email to the talent pool; None: never.
    keep_in_touch_weeks: int | None = None
    experiment: Experiment = field(default_factory=Experiment)
    # Email follow-ups wait while replies are not tracked (no FOLLOWUP_REPLY_DOMAIN): without
    # tracking, an emailed "I accept" reaches the recruiter's inbox only, and a nudge would follow it.
    hold_email_nudges_until_replies_tracked: bool = False
    source: str = "the default cadence file"  # for messages: which file said this

    def cadence_for(self, decision: str, channel: str) -> Cadence:
        """The cadence of a decision whose first channel is `channel`: the one for that channel,
        else the decision's `any` cadence. The file check makes sure one exists."""
        fallback = None
        for cadence in self.cadences:
            if cadence.decision == decision:
                if cadence.first_channel == channel:
                    return cadence
                if cadence.first_channel == ANY_CHANNEL:
                    fallback = cadence
        if fallback is None:
            raise KeyError(f"no cadence for {decision} by {channel} in {self.source}")
        return fallback
