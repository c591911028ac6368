"""The world a demo round plays in, all on this machine: the sandbox as SendGrid and as the
candidates (opens, clicks, bounces, replies, out-of-office answers, on the business clock), the
receiver as `followup serve` takes their events and replies, and the recruiters, who make the
calls on their call sheets and hold the meetings, and record what happened as a recruiter does:
an outcomes file, imported.

    with DemoWorld(settings, seed=7) as world:
        run the round with world.settings, calling world.advance(now) as the clock moves
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime

import sqlalchemy as sa
from pydantic import SecretStr

from followup.config import Settings
from followup.models import Candidate, Decision, Message
from followup.sandbox import Sandbox, SandboxConfig
from followup.sandbox.behaviour import offline
from followup.sandbox.behaviour.replies import Features
from followup.sandbox.events import Signer
from followup.secret_key import signing_secret
from followup.stages.outcomes import OutcomeSetup, OutcomeSummary, import_outcomes
from followup.stages.replies import InboundSetup
from followup.store import open_ledger
from followup.store.dialect import aware
from followup.tracking.signatures import load_public_key
from followup.web import serving
from followup.web.events import PATH as EVENTS_PATH
from followup.web.inbound import PATH as INBOUND_PATH

# Any key works with the demo's own sandbox; it only has to match.
DEMO_KEY = "SG.demo"
# The secret in the Inbound Parse URL; the demo's receiver listens on loopback only.
_INBOUND_TOKEN = "demo-inbound-token-0123456789abcdef"
REPLY_DOMAIN = "replies.demo.example"
# How often the sandbox posts what happened, and how often the round looks whether all of it
# has arrived: the clock stops a few hundred times, each stop waits about this long.
_POLL_S = 0.01


class DemoWorld:
    """The sandbox, the receiver and the recruiters of one round; a context manager."""

    def __init__(self, settings: Settings, *, seed: int, latency_ms: float = 50.0, error_rate: float = 0.003,
                 on_advance: Callable[[datetime], None] | None = None) -> None:  # fmt: skip
        """`settings`: the demo's own (its data dir and ledger); sandbox and reply tracking are added."""
        self._base = settings.model_copy(update={
            "transport": "sendgrid",
            "sendgrid_api_key": SecretStr(DEMO_KEY),
            "reply_domain": REPLY_DOMAIN,
            "inbound_token": SecretStr(_INBOUND_TOKEN),
        })  # fmt: skip
        self.settings = self._base
        self.seed = seed
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.on_advance = on_advance
        self.sandbox: Sandbox | None = None
        self._serving = None
        # candidate_id -> what the sandbox's candidates are like (None: nothing the email does not say)
        self._known: dict[str, dict | None] = {}
        self._recorded: set[str] = set()  # message keys whose call or meeting is recorded
        self._recorded_on: date | None = None  # the day the recruiters last recorded theirs
        self.outcomes: list[OutcomeSummary] = []

    def __enter__(self) -> DemoWorld:
        engine = open_ledger(self._base.ledger_url)
        signer_key = load_public_key(Signer(self.seed).public_key)  # the sandbox signs with its seed's key
        self._serving = serving(engine, signing_secret(self._base), webhook_public_key=signer_key,
                                inbound_setup=InboundSetup.of(self._base))  # fmt: skip
        receiver = self._serving.__enter__()
        try:
            config = SandboxConfig(
                api_key=DEMO_KEY, latency_ms=self.latency_ms, seed=self.seed,
                # A few faults, as SendGrid has on a bad day: the sender retries them within the run,
                # each after its backoff of a second or two (real time: the round waits for it).
                error_rate=self.error_rate, burst_429_every=1000, burst_429_length=2,
                webhook_url=receiver + EVENTS_PATH, event_interval_s=_POLL_S, duplicate_rate=0.02,
                behaviour=True, inbound_url=f"{receiver}{INBOUND_PATH}/{_INBOUND_TOKEN}",
            )  # fmt: skip
            self.sandbox = Sandbox(config, features=self._features).start()
        except BaseException:
            self._serving.__exit__(None, None, None)
            raise
        self.settings = self._base.model_copy(update={"sendgrid_api_host": self.sandbox.url})
        return self

    def __exit__(self, *exc_info) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
        if self._serving is not None:
            self._serving.__exit__(*exc_info)

    def advance(self, now: datetime) -> None:
        """The business clock is at `now`: what candidates do up to then reaches the receiver (every
        event and reply acknowledged before this returns), and the calls and meetings due by then
        are recorded."""
        assert self.sandbox is not None, "the world is not started"
        self.sandbox.set_clock(now)
        self.sandbox.wait_for_events(timeout=120, poll_s=_POLL_S)
        self._record_offline(now)
        if self.on_advance is not None:
            self.on_advance(now)

    def stats(self) -> dict:
        """The sandbox's counts, and how many message keys it accepted more than once (none, if
        every message was sent exactly once)."""
        assert self.sandbox is not None, "the world is not started"
        arrivals = Counter(key for _, key in self.sandbox.message_keys() if key)
        return {**self.sandbox.stats(), "accepted_twice": sum(1 for n in arrivals.values() if n > 1)}

    def _features(self, message_key: str, body: dict) -> dict | None:
        """What the ledger knows of a candidate that no email says: their zone and when they were decided."""
        custom_args = body.get("custom_args") if isinstance(body.get("custom_args"), dict) else {}
        candidate = str(custom_args.get("candidate_id", ""))
        if candidate not in self._known:  # a new batch: read its candidates once
            with open_ledger(self.settings.ledger_url).connect() as conn:
                rows = conn.execute(sa.select(Candidate.candidate_id, Candidate.timezone, Decision.decided_at)
                                    .join(Decision, Decision.candidate_id == Candidate.candidate_id)).all()  # fmt: skip
            self._known.update({cid: {"time_zone": zone, "decided_at": aware(decided)} if zone else None
                                for cid, zone, decided in rows})  # fmt: skip
            self._known.setdefault(candidate, None)  # no such candidate (a forward's): not read again
        return self._known[candidate]

    def _record_offline(self, now: datetime) -> None:
        """The recruiters' calls and meetings held by `now`, recorded through `outcomes import`,
        as a recruiter does: once a day, the first time the clock is on a new day."""
        if self._recorded_on == now.date():
            return
        self._recorded_on = now.date()
        rows = []
        for key, candidate, kind, channel, left_at, meeting_at in self._offline_due(now):
            if channel == "voicemail":
                features = Features(channel=channel, kind=kind, weekday=left_at.weekday())
                outcome, at = offline.voicemail_outcome(self.seed, key, left_at, features)
            else:
                outcome, at = offline.meeting_outcome(self.seed, key, meeting_at)
            if at <= now:
                rows.append({"candidate_id": candidate, "outcome": outcome, "at": at.isoformat(), "channel": channel,
                             "message_key": key, "note": _NOTES[outcome]})  # fmt: skip
        if not rows:
            return
        path = self.settings.data_dir / "outcomes" / f"{now:%Y-%m-%dT%H%M}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as sheet:
            writer = csv.DictWriter(sheet, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        summary = import_outcomes(path, now, OutcomeSetup.of(self.settings))
        self.outcomes.append(summary)
        if not summary.refused:
            self._recorded.update(row["message_key"] for row in rows)

    def _offline_due(self, now: datetime) -> list[tuple]:
        """Voicemails left and invitations sent by `now` whose outcome is not recorded yet; a
        meeting counts once its start has passed (and its invitation came before it)."""
        with open_ledger(self.settings.ledger_url).connect() as conn:
            found = conn.execute(
                sa.select(Message.message_key, Message.candidate_id, Message.kind, Message.channel, Message.sent_at,
                          Decision.meeting_at)
                .join(Decision, Decision.id == Message.decision_id)
                .where(Message.status == "sent", Message.channel.in_(("voicemail", "in_person")),
                       Message.sent_at <= now)
            ).all()  # fmt: skip
        # SQLite hands its times back without their zone: they are UTC.
        found = [(*row[:4], aware(row[4]), aware(row[5])) for row in found if row[0] not in self._recorded]
        return [row for row in found if row[3] == "voicemail" or (row[5] is not None and row[4] < row[5] <= now)]


_NOTES = {
    offline.CALLED_BACK: "called back after the voicemail",
    offline.NO_ANSWER: "no call back",
    offline.ATTENDED: "came to the meeting",
    offline.NO_SHOW: "did not come to the meeting",
}
