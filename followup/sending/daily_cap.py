"""An optional daily cap on emails (FOLLOWUP_DAILY_CAP), for a sending plan with a daily quota.

The day is the company's (FOLLOWUP_TIMEZONE, else UTC) on the business clock, the day a send
stage starts in, and the cap counts every sender together. The ledger keeps what each day has
taken (store.daily_cap), and a sender takes the allowance of the emails it claims in the same
transaction as the claim: two send stages started together, overlapping sweeps, or a sweep
beside a campaign run, never spend the same allowance. A message keeps its allowance while it
may have gone out (sending, sent, unknown); one the provider did not take (a 429, a 5xx, a
refusal), or that never reached it, gives it back.

Once the day's cap is spent, the sender claims only the channels the cap does not count
(followup.channels: voicemails, calls on a recruiter's call sheet), which never wait for it;
the emails wait for the next day's sweep, or for allowance this sender gets back meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from followup import channels
from followup.store import daily_cap


class DailyAllowance:
    """One sender's part in the daily cap: send_due claims through it."""

    def __init__(self, cap: int, day: str) -> None:
        self.cap = cap
        self.day = day  # the company's date, ISO 8601
        # The last take got nothing and nothing came back since: claim uncapped channels only.
        self.spent = False
        self._capped = frozenset(channels.capped())

    @classmethod
    def open(cls, engine: Engine, cap: int, business_now: datetime, zone: str | None) -> DailyAllowance:
        """The allowance of the company's day holding `business_now`."""
        local = business_now.astimezone(ZoneInfo(zone or "UTC"))
        day_start = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo)
        day = local.date().isoformat()
        daily_cap.open_day(engine, day, day_start, channels.capped())
        return cls(cap, day)

    def claim(self, conn: sa.Connection, wanted: int, returned: int, claim: Callable[[int], list[dict]]) -> list[dict]:
        """Up to `wanted` rows from `claim(limit)`, in the caller's transaction `conn`, holding no
        more capped messages than the day's cap has left; first the allowance of `returned`
        capped messages (answered without the provider taking them) goes back.

        While spent, the caller's `claim` offers uncapped channels only, so nothing is taken."""
        spent = self.spent
        if returned:
            daily_cap.give_back(conn, self.day, returned)
            self.spent = False  # what came back may be enough for more
        if spent or not wanted:
            return claim(wanted) if wanted else []
        granted = daily_cap.take(conn, self.day, self.cap, wanted)
        self.spent = not granted
        rows = claim(granted) if granted else []
        daily_cap.give_back(conn, self.day, granted - self.capped_among(rows))
        return rows

    def capped_among(self, rows: Iterable[dict]) -> int:
        """How many of these claimed rows the cap counts."""
        return sum(1 for row in rows if row["channel"] in self._capped)
