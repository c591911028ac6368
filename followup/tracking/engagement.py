"""Each candidate's engagement, from their events and responses: cold, warming, warm, responded.

- **responded**: any response (models.RESPONSES). A question is a response, so it stops the
  cadence; while the latest response is a question the candidate heads the list as
  "responded: question, needs an answer", until a later response or outcome is recorded.
- **warm**: a click, or human opens on `warm_open_days` different days (the candidate's own
  calendar days, in their time zone; UTC when it is unknown).
- **warming**: one human open.
- **cold**: nothing yet.

An open counts only when it looks human. Recruiting tools warn that proxies inflate open rates,
and Ashby tells its users to judge by clicks and replies; so an open is discounted when
SendGrid flags it `sg_machine_open` (Apple Mail Privacy Protection), when it comes within
`machine_seconds` of its message's delivery (a pre-fetch, whatever the flag says: the flag can
be missing behind a proxy), or when its user agent is a known image proxy. A click within
`machine_seconds` of delivery is a mail gateway's link scanner and is discounted too.

Plain Python over rows the store reads: no SQL, so every transition is a unit test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup.models import RESPONSES, Outcome

COLD, WARMING, WARM, RESPONDED = "cold", "warming", "warm", "responded"
# Warmest first; a question waiting for an answer heads them all.
_RANK = {RESPONDED: 0, WARM: 1, WARMING: 2, COLD: 3}
_RESPONSES = frozenset(outcome.value for outcome in RESPONSES)
_QUESTION = Outcome.QUESTION.value
# User agents of the proxies that fetch a tracking pixel on the reader's behalf, or whether or not
# anyone reads: Gmail's image proxy, Yahoo's, Apple's (which SendGrid flags too), and the secure
# mail gateways that open and follow everything (Mautic users report these, issues 7884, 10409).
IMAGE_PROXY_AGENTS = ("GoogleImageProxy", "YahooMailProxy", "ggpht.com", "Mimecast", "Barracuda", "Proofpoint",
                      "Symantec", "Forcepoint", "MessageLabs")  # fmt: skip


@dataclass(frozen=True)
class Thresholds:
    """FOLLOWUP_WARM_OPEN_DAYS and FOLLOWUP_MACHINE_OPEN_SECONDS."""

    warm_open_days: int = 2
    machine_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class Signal:
    """One open, click or delivery of a message to the candidate."""

    message_key: str
    event: str  # delivered | open | click
    at: datetime  # UTC, aware
    machine_open: bool = False
    useragent: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: str
    at: datetime
    channel: str


@dataclass(frozen=True)
class Engagement:
    candidate_id: str
    state: str
    since: datetime | None  # when the state began; cold: None
    evidence: tuple[str, ...] = field(default_factory=tuple)
    needs_answer: bool = False  # responded with a question nobody has answered yet

    @property
    def label(self) -> str:
        return "responded: question, needs an answer" if self.needs_answer else self.state

    @property
    def rank(self) -> tuple:
        # Within a state, the most recent first: the one to call today.
        recent = -(self.since.timestamp() if self.since else 0)
        return (0 if self.needs_answer else 1 + _RANK[self.state], recent, self.candidate_id)

    def to_json(self) -> dict:
        return {"candidate_id": self.candidate_id, "state": self.state, "label": self.label,
                "since": self.since.isoformat() if self.since else None, "needs_answer": self.needs_answer,
                "evidence": list(self.evidence)}  # fmt: skip


def _zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def why_not_human(signal: Signal, delivered_at: datetime | None, thresholds: Thresholds) -> str | None:
    """Why an open or click does not count as a person's, or None when it does."""
    if signal.event == "open" and signal.machine_open:
        return "machine open (Apple Mail Privacy Protection)"
    if delivered_at is not None and (signal.at - delivered_at).total_seconds() < thresholds.machine_seconds:
        return f"within {thresholds.machine_seconds:g} s of delivery"
    if signal.event == "open" and image_proxy(signal.useragent):
        return "image proxy"
    return None


def image_proxy(useragent: object) -> bool:
    """Whether an open's user agent is a known image proxy's (IMAGE_PROXY_AGENTS)."""
    agent = str(useragent or "").lower()
    return any(proxy.lower() in agent for proxy in IMAGE_PROXY_AGENTS)


def engagement_of(
    candidate_id: str,
    signals: Iterable[Signal],
    answers: Iterable[Answer],
    thresholds: Thresholds = Thresholds(),
    zone: str | None = None,
) -> Engagement:
    """The candidate's state from their signals and answers (any order)."""
    answers = sorted(answers, key=lambda a: a.at)
    responses = [a for a in answers if a.outcome in _RESPONSES]
    if responses:
        first, last = responses[0], answers[-1]
        needs_answer = last.outcome == _QUESTION
        evidence = tuple(f"{a.outcome} {a.at:%Y-%m-%d %H:%M} UTC by {a.channel}" for a in responses)
        return Engagement(candidate_id, RESPONDED, first.at, evidence, needs_answer)
    signals = sorted(signals, key=lambda s: s.at)
    delivered: dict[str, datetime] = {}
    for signal in signals:
        if signal.event == "delivered":
            delivered.setdefault(signal.message_key, signal.at)
    local = _zone(zone)
    opens: list[Signal] = []
    open_days: list = []
    for signal in signals:
        if signal.event not in ("open", "click") or why_not_human(signal, delivered.get(signal.message_key), thresholds):
            continue
        if signal.event == "click":
            return Engagement(candidate_id, WARM, signal.at, (f"click {signal.at:%Y-%m-%d %H:%M} UTC",))
        opens.append(signal)
        day = signal.at.astimezone(local).date()
        if day not in open_days:
            open_days.append(day)
        if len(open_days) >= thresholds.warm_open_days:
            days = ", ".join(f"{d:%Y-%m-%d}" for d in open_days)
            return Engagement(candidate_id, WARM, signal.at, (f"human opens on {len(open_days)} days: {days}",))
    if opens:
        return Engagement(candidate_id, WARMING, opens[0].at, (f"human open {opens[0].at:%Y-%m-%d %H:%M} UTC",))
    return Engagement(candidate_id, COLD, None, ())


def warmest_first(states: Iterable[Engagement]) -> list[Engagement]:
    return sorted(states, key=lambda e: e.rank)


def engagements(
    candidates: Mapping[str, str | None],
    signals: Mapping[str, list[Signal]],
    answers: Mapping[str, list[Answer]],
    thresholds: Thresholds = Thresholds(),
) -> list[Engagement]:
    """Every candidate of `candidates` (id -> time zone), warmest first."""
    return warmest_first(
        engagement_of(cid, signals.get(cid, ()), answers.get(cid, ()), thresholds, zone)
        for cid, zone in candidates.items()
    )
