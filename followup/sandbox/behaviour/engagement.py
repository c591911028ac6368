"""What each recipient does with an email once it is delivered, as the Event Webhook reports it:
opens, Apple's machine opens, clicks, hard bounces, unsubscribes, spam reports.

Every parameter is here, with where it comes from (../shared/behaviour-calibration.md names the
sources); what no source gives is marked as an assumption. The world is a function of the seed
and the message alone (a random generator seeded with both), so the same seed gives the same
world whatever order messages arrive in, and a test can read the true effects from this file.

Replies are modelled in .replies, with the effects of the hour, weekday, delay and variant on
them; here the weekday acts on opens only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Behaviour:
    # Hard bounces: 0.40% on opt-in lists (Mailchimp 2019), 2.3% median on cold B2B lists, 0.8% on
    # verified ones. Candidates typed their own address into an application: the verified figure.
    hard_bounce: float = 0.008
    # A person opening the email. Gem (1.5M recruiting sequences, 2021-22) saw 76.5% "opened",
    # machine opens included; people alone: an assumption below it.
    human_open: float = 0.60
    # Apple Mail Privacy Protection fetches the pixel on arrival: over 50% of tracked opens (Litmus
    # 2025). The share of recipients behind it, whether or not they read.
    apple_mpp: float = 0.50
    # An assumption: the share whose own opens come through Gmail's image proxy.
    gmail_proxy: float = 0.30
    # Assumptions: an opener clicks the offer's link; opens again on a later day.
    click_after_open: float = 0.25
    reopen: float = 0.35
    # Unsubscribes 0.25% (opt-in) to 0.38% (cold); from the fourth email on more than three times
    # as many (Belkins, 11M cold emails, 2023).
    unsubscribe: float = 0.003
    unsubscribe_from_step_3: float = 3.0
    # Spam complaints: Gmail and Yahoo's bulk-sender rules ask for under 0.10%.
    spam_report: float = 0.0005
    # Reply delay in 16B Yahoo emails (Kooti et al. 2015): median 47 minutes, ~90% within a day;
    # used for the delay of a person's open: log-normal, sigma from P(within 1440 min) = 0.9.
    open_median_minutes: float = 47.0
    open_sigma: float = 2.67
    # HubSpot (20M sales emails): opens relative to average, Mon +18%, Tue +20%, Wed +18%,
    # Thu +15%, Fri +8%, "weekends sharply lower" (an assumption: half of average).
    open_by_weekday: tuple[float, ...] = (1.18, 1.20, 1.18, 1.15, 1.08, 0.5, 0.5)


DEFAULT = Behaviour()
_SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
_GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
_APPLE_PROXY = "Mozilla/5.0"


def world(seed: int, message_key: str, email: str) -> random.Random:
    """The generator of one message's world: the same for the same seed and message."""
    return random.Random(f"{seed}\x1f{message_key}\x1f{email}")


def act(
    seed: int, message_key: str, email: str, delivered_at: datetime, step: int, params: Behaviour = DEFAULT
) -> tuple[bool, list[tuple[datetime, dict]]]:
    """(bounced, [(when, event fields)]) for one delivered message; a bounce has no other events.

    `delivered_at` is the business time of delivery; its weekday (UTC: the sandbox does not know
    the candidate's zone) scales the chance of a person's open."""
    rng = world(seed, message_key, email)
    if rng.random() < params.hard_bounce:
        return True, []
    actions: list[tuple[datetime, dict]] = []
    if rng.random() < params.apple_mpp:
        actions.append((delivered_at + timedelta(seconds=rng.uniform(1, 8)),
                        {"event": "open", "sg_machine_open": True, "useragent": _APPLE_PROXY}))  # fmt: skip
    agent = _GMAIL_PROXY if rng.random() < params.gmail_proxy else _SAFARI
    weekday = params.open_by_weekday[delivered_at.weekday()] / (sum(params.open_by_weekday) / 7)
    if rng.random() < min(1.0, params.human_open * weekday):
        minutes = min(math.exp(math.log(params.open_median_minutes) + params.open_sigma * rng.gauss(0, 1)),
                      7 * 24 * 60)  # fmt: skip
        opened = delivered_at + timedelta(minutes=max(minutes, 0.5))
        actions.append((opened, {"event": "open", "sg_machine_open": False, "useragent": agent}))
        if rng.random() < params.reopen:
            actions.append((opened + timedelta(days=rng.randint(1, 3), minutes=rng.uniform(0, 600)),
                            {"event": "open", "sg_machine_open": False, "useragent": agent}))  # fmt: skip
        if rng.random() < params.click_after_open:
            click = {"event": "click", "useragent": agent, "url": "https://jobs.example.com/offer"}
            actions.append((opened + timedelta(seconds=rng.uniform(5, 300)), click))
    unsubscribe = params.unsubscribe * (params.unsubscribe_from_step_3 if step >= 3 else 1.0)
    if rng.random() < unsubscribe:
        actions.append((delivered_at + timedelta(minutes=rng.uniform(2, 600)), {"event": "unsubscribe"}))
    elif rng.random() < params.spam_report:
        actions.append((delivered_at + timedelta(minutes=rng.uniform(2, 600)), {"event": "spamreport"}))
    return False, sorted(actions, key=lambda action: action[0])
