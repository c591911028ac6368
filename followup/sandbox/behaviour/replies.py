"""Whether, when and how a candidate answers an email: the intent and language of each reply.

A pure function of (seed, message, features): the generator is seeded with the seed and the
message, as engagement.world() is, so the same seed gives the same replies whatever order
messages arrive in. `reply_probability` is the whole true effect of the features on the chance
that a person replies, so an analytics test can compute every cell's true rate from it.

Sources are named in ../shared/behaviour-calibration.md. Figures measured in different ways do
not mix: the per-email chance is built from Lever's per-step shares and Gem's sequence total;
Belkins (cold sales, not recruiting) is used only for what Lever does not cover, past step 3.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone, tzinfo

ACCEPTED, DECLINED, QUESTION, OPT_OUT, REPLIED = "accepted", "declined", "question", "opt_out", "replied"
OUT_OF_OFFICE, AUTO_REPLY = "out_of_office", "auto_reply"
INTENTS = (ACCEPTED, DECLINED, QUESTION, OPT_OUT, REPLIED, OUT_OF_OFFICE, AUTO_REPLY)
LANGUAGES = ("en", "de", "fr", "es", "pt")

# The recipient's country domain says the language; others (.com, .org, ...) are drawn below.
_TLD_LANGUAGE = {"de": "de", "at": "de", "ch": "de", "fr": "fr", "be": "fr", "es": "es", "mx": "es", "ar": "es",
                 "co": "es", "br": "pt", "pt": "pt"}  # fmt: skip


@dataclass(frozen=True)
class Features:
    """What the model knows of one message. None: unknown, taken as neutral (a factor of 1)."""

    channel: str = "email"
    kind: str = ""
    step: int = 0  # 0: the first email of its sequence
    variant: str = ""
    delay_days: float | None = None  # business days from the decision to the send
    local_hour: int | None = None  # at delivery, in the candidate's zone (UTC when the zone is unknown)
    weekday: int | None = None  # Monday 0, at delivery, in the same zone
    zone: tzinfo = timezone.utc  # where the candidate's day and night are


@dataclass(frozen=True)
class ReplyParams:
    # Gem (1.5M recruiting sequences, 2021-22): 18.8% of sequences replied. Lever (135k candidates,
    # 2018): three emails gave twice the responses of one, so the first email alone about 9.4%.
    first_email: float = 0.094
    # Per email of a sequence, relative to the first, among those who have not replied yet (later
    # emails only go to them). Lever: two emails +71%, three +100% of one email's responses (about
    # half after email 1, a third after email 2): step 1 adds 0.71 of 9.4% over the 90.6% left,
    # 0.78; step 2 adds 0.29 over the 83.9% left, 0.35. Belkins (11M cold emails, 2023): the third
    # follow-up lowers replies by 20-30%: step 3 on, 0.35 x 0.75.
    by_step: tuple[float, ...] = (1.0, 0.78, 0.35, 0.26)
    # LinkedIn InMail (2021-22): Saturday about -16%, other days within ~1% of average, Friday and
    # Saturday lowest. ASSUMPTION: Friday -8% (no figure is published; between the two).
    by_weekday: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.92, 0.84, 1.0)
    # LinkedIn InMail: 9-10 AM best. ASSUMPTIONS, no magnitude is published: +10% then, -15% at
    # night (22:00-06:59), otherwise neutral.
    best_hours: tuple[int, ...] = (9,)
    best_hour: float = 1.10
    night_hours: tuple[int, ...] = (22, 23, 0, 1, 2, 3, 4, 5, 6)
    night: float = 0.85
    # ASSUMPTION (no published figure): each business day between the decision and the send loses
    # 4% of replies, down to at most -40%, as a candidate cools or takes another offer meanwhile.
    per_delay_day: float = 0.96
    delay_floor: float = 0.60
    # ASSUMPTIONS: the template variants' true effects. "b" is 15% better than the base "a"; "c"
    # is the null pair of "a": the same words, a different name, so an A/A test must find nothing.
    # A variant not listed here has no effect either.
    by_variant: dict[str, float] = field(default_factory=lambda: {"a": 1.0, "b": 1.15, "c": 1.0})
    # ASSUMPTION: an in-person invitation asks for an answer (an RSVP) and gets 20% more of them.
    # A voicemail is never answered by email: .offline models its call-backs.
    by_channel: dict[str, float] = field(default_factory=lambda: {"email": 1.0, "in_person": 1.2, "voicemail": 0.0})
    # What a person's reply says, by kind (relative weights). Offers: 84% of decided offers are
    # accepted (Saratoga/PwC 2022), so declined = accepted x 16/84; their other weights are
    # ASSUMPTIONS. Keep-in-touch mail: Gem's 5.1% "interested" of 18.8% replies, 27%, as question +
    # accepted; its other weights ASSUMPTIONS. In-person invitations and rejections: ASSUMPTIONS
    # throughout (no credible figure is published for accepting an in-person meeting).
    intents: dict[str, dict[str, float]] = field(default_factory=lambda: {
        "offer": {ACCEPTED: 0.55, DECLINED: 0.105, QUESTION: 0.20, REPLIED: 0.12, OPT_OUT: 0.025},
        "offer_nudge": {ACCEPTED: 0.55, DECLINED: 0.105, QUESTION: 0.20, REPLIED: 0.12, OPT_OUT: 0.025},
        "in_person_invite": {ACCEPTED: 0.50, DECLINED: 0.15, QUESTION: 0.20, REPLIED: 0.12, OPT_OUT: 0.03},
        "keep_in_touch": {ACCEPTED: 0.07, DECLINED: 0.13, QUESTION: 0.20, REPLIED: 0.45, OPT_OUT: 0.15},
        "rejection": {DECLINED: 0.02, QUESTION: 0.25, REPLIED: 0.68, OPT_OUT: 0.05},
    })  # fmt: skip
    default_kind: str = "offer"
    # ASSUMPTIONS: autoresponders answer whatever arrives, whatever the features: 5% of recipients
    # are away (their human reply, if any, comes after their return date), 1% of addresses are
    # a ticket bot's or an unmonitored mailbox's.
    out_of_office: float = 0.05
    auto_reply: float = 0.01
    away_days: tuple[int, int] = (2, 14)
    # Kooti et al. 2015 (16B Yahoo emails): reply delay median 47 minutes, ~90% within a day
    # (log-normal, sigma from P(within 1440 min) = 0.9), slower at night and at weekends.
    reply_median_minutes: float = 47.0
    reply_sigma: float = 2.67
    # ASSUMPTION for "slower at weekends": half the replies due on a weekend wait for Monday.
    weekend_wait: float = 0.5
    # Offers are weightier: one agency's 300+ offers, acceptors median 2 business days, decliners
    # median 6 (long silence predicts a decline). ASSUMPTION: log-normal with sigma 0.6.
    accept_median_days: float = 2.0
    decline_median_days: float = 6.0
    decision_sigma: float = 0.6
    # ASSUMPTION: 15% of other addresses write in a language other than English, evenly.
    not_english: float = 0.15


DEFAULT = ReplyParams()


@dataclass(frozen=True)
class Reply:
    at: datetime  # business time, UTC
    intent: str
    language: str
    returns_on: date | None = None  # out_of_office: the day the person is back


def features_from(custom_args: dict, delivered_at: datetime, known: dict | None = None) -> Features:
    """The features of a message: custom_args (strings) first, then what a caller knows better
    (`known`: Features fields, plus "time_zone" (IANA name) and "decided_at" (aware datetime))."""
    from zoneinfo import ZoneInfo

    step = str(custom_args.get("step", ""))
    features = Features(channel=custom_args.get("channel") or "email", kind=custom_args.get("kind") or "",
                        step=int(step) if step.isdigit() else 0, variant=custom_args.get("variant") or "")  # fmt: skip
    known = dict(known or {})
    if isinstance(known.get("time_zone"), str):
        known["zone"] = ZoneInfo(known.pop("time_zone"))
    decided = known.pop("decided_at", None)
    if isinstance(decided, datetime) and known.get("delay_days") is None:
        known["delay_days"] = business_days(decided, delivered_at)
    known = {name: value for name, value in known.items() if name in Features.__dataclass_fields__}
    features = replace(features, **known)
    local = delivered_at.astimezone(features.zone)
    return replace(features, local_hour=local.hour if features.local_hour is None else features.local_hour,
                   weekday=local.weekday() if features.weekday is None else features.weekday)  # fmt: skip


def business_days(start: datetime, end: datetime) -> int:
    """Weekdays after `start`'s date up to `end`'s (holidays are not the sandbox's business)."""
    day, count = start.date(), 0
    while day < end.date():
        day += timedelta(days=1)
        count += day.weekday() < 5
    return count


def reply_probability(features: Features, params: ReplyParams = DEFAULT) -> float:
    """The chance that a person replies to this email (autoresponders aside): the product of the
    documented effects, each 1 when its feature is unknown."""
    p = params.first_email * params.by_channel.get(features.channel, 1.0)
    p *= params.by_step[min(max(features.step, 0), len(params.by_step) - 1)]
    if features.weekday is not None:
        p *= params.by_weekday[features.weekday]
    if features.local_hour in params.best_hours:
        p *= params.best_hour
    elif features.local_hour in params.night_hours:
        p *= params.night
    if features.delay_days is not None:
        p *= max(params.delay_floor, params.per_delay_day ** max(features.delay_days, 0))
    p *= params.by_variant.get(features.variant, 1.0)
    return min(p, 1.0)


def language_for(email: str, rng: random.Random, params: ReplyParams = DEFAULT) -> str:
    tld = email.rsplit(".", 1)[-1].lower()
    if tld in _TLD_LANGUAGE:
        return _TLD_LANGUAGE[tld]
    return rng.choice(LANGUAGES[1:]) if rng.random() < params.not_english else "en"


def replies(seed: int, message_key: str, email: str, delivered_at: datetime, features: Features,
            params: ReplyParams = DEFAULT) -> list[Reply]:  # fmt: skip
    """What comes back for one delivered message, in time order: nothing, a bot's answer, an
    out-of-office notice (and perhaps the person's reply after their return), or a person's reply."""
    rng = random.Random(f"{seed}\x1freply\x1f{message_key}\x1f{email}")
    language = language_for(email, rng, params)
    automatic, human = rng.random(), rng.random()  # drawn always, so one draw never shifts another
    if automatic < params.auto_reply:
        return [Reply(delivered_at + timedelta(seconds=rng.uniform(2, 60)), AUTO_REPLY, language)]
    found: list[Reply] = []
    earliest = delivered_at
    if automatic < params.auto_reply + params.out_of_office:
        local = delivered_at.astimezone(features.zone)
        back = local.date() + timedelta(days=rng.randint(*params.away_days))
        back += timedelta(days=(7 - back.weekday()) % 7 if back.weekday() >= 5 else 0)  # people return on a weekday
        found.append(Reply(delivered_at + timedelta(seconds=rng.uniform(5, 180)), OUT_OF_OFFICE, language, back))
        earliest = datetime.combine(back, datetime.min.time(), features.zone).astimezone(timezone.utc)
        earliest += timedelta(hours=rng.uniform(8, 11))
    if human < reply_probability(features, params):
        weights = params.intents.get(features.kind) or params.intents[params.default_kind]
        intent = rng.choices(list(weights), weights=list(weights.values()))[0]
        found.append(Reply(_human_time(rng, earliest, intent, features, params), intent, language))
    return found


def _human_time(rng: random.Random, start: datetime, intent: str, features: Features, params: ReplyParams) -> datetime:
    offer = features.kind in ("offer", "offer_nudge")
    if offer and intent in (ACCEPTED, DECLINED):
        median = params.accept_median_days if intent == ACCEPTED else params.decline_median_days
        business = math.exp(math.log(median) + params.decision_sigma * rng.gauss(0, 1))
        at = start + timedelta(days=business * 7 / 5)  # business days, spread over the calendar week
    else:
        minutes = math.exp(math.log(params.reply_median_minutes) + params.reply_sigma * rng.gauss(0, 1))
        at = start + timedelta(minutes=min(max(minutes, 1.0), 7 * 24 * 60))
    local = at.astimezone(features.zone)
    if local.hour < 7:  # people asleep answer in the morning
        local = local.replace(hour=7, minute=0) + timedelta(minutes=rng.uniform(0, 120))
    if local.weekday() >= 5 and rng.random() < params.weekend_wait:
        monday = local.date() + timedelta(days=7 - local.weekday())
        local = datetime.combine(monday, datetime.min.time(), features.zone) + timedelta(hours=rng.uniform(8, 11))
    return local.astimezone(timezone.utc)
