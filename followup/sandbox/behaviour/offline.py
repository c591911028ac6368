"""What happens off the mail: whether a candidate calls back after a voicemail, and whether they
come to an in-person meeting. Pure functions of (seed, message, features), for the end-to-end
demo to record as outcomes (not wired to the sandbox's server: no mail carries them).

Sources are named in ../shared/behaviour-calibration.md.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from followup.sandbox.behaviour.replies import Features

CALLED_BACK, NO_ANSWER, ATTENDED, NO_SHOW = "called_back", "no_answer", "attended", "no_show"


@dataclass(frozen=True)
class OfflineParams:
    # First voicemail call-back: 4.8% (ZoomInfo, quoted 2020), 2% in a cold test; the calibration
    # file takes 5-10% as plausible for a first voicemail: its middle.
    call_back: float = 0.075
    # ASSUMPTION: a candidate just offered a job is warm and calls back twice as often.
    warm_kinds: tuple[str, ...] = ("offer", "offer_nudge", "in_person_invite")
    warm: float = 2.0
    # 5,000 applicant calls: ~70% answered on Tue/Wed/Sat, ~50% on Friday; ASSUMPTION: the other
    # days at 60%. Relative to 70%, the chance of calling back on the day of the voicemail.
    by_weekday: tuple[float, ...] = (0.6 / 0.7, 1.0, 1.0, 0.6 / 0.7, 0.5 / 0.7, 1.0, 0.6 / 0.7)
    # ASSUMPTION: call-backs come within hours, median 3, at most two days later.
    call_back_median_hours: float = 3.0
    call_back_sigma: float = 1.0
    # ASSUMPTION (no credible published figure): 80% of invited candidates attend; the late ones
    # up to 15 minutes after the start.
    attend: float = 0.80
    late_minutes: float = 15.0


DEFAULT = OfflineParams()


def call_back_probability(features: Features, params: OfflineParams = DEFAULT) -> float:
    p = params.call_back * (params.warm if features.kind in params.warm_kinds else 1.0)
    if features.weekday is not None:
        p *= params.by_weekday[features.weekday]
    return min(p, 1.0)


def voicemail_outcome(seed: int, message_key: str, left_at: datetime, features: Features,
                      params: OfflineParams = DEFAULT) -> tuple[str, datetime]:  # fmt: skip
    """(called_back, when) or (no_answer, when the voicemail was left)."""
    rng = random.Random(f"{seed}\x1fvoicemail\x1f{message_key}")
    if rng.random() >= call_back_probability(features, params):
        return NO_ANSWER, left_at
    hours = math.exp(math.log(params.call_back_median_hours) + params.call_back_sigma * rng.gauss(0, 1))
    return CALLED_BACK, left_at + timedelta(hours=min(hours, 48.0))


def meeting_outcome(seed: int, message_key: str, starts_at: datetime,
                    params: OfflineParams = DEFAULT) -> tuple[str, datetime]:  # fmt: skip
    """(attended, when they arrived) or (no_show, the meeting's start)."""
    rng = random.Random(f"{seed}\x1fmeeting\x1f{message_key}")
    if rng.random() >= params.attend:
        return NO_SHOW, starts_at
    return ATTENDED, starts_at + timedelta(minutes=rng.uniform(-5, params.late_minutes))
