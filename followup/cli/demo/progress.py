"""The demo's progress on stderr: a bar for each stage of the round, advanced by the round's
business clock. Nothing when stderr is not a terminal or the output is JSON."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class RoundProgress:
    def __init__(self, console: Console, start: datetime, days: int, enabled: bool = True) -> None:
        self.start, self.days = start, days
        self._bars = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(), console=console,
        ) if enabled and console.is_terminal else None  # fmt: skip
        self._campaign = self._days = self._report = TaskID(0)

    def __enter__(self) -> RoundProgress:
        if self._bars is not None:
            self._bars.start()
            self._campaign = self._bars.add_task("Campaign: import, validate, render, send", total=None, note="")
            self._days = self._bars.add_task(f"Follow-ups over {self.days} days", total=self.days, start=False,
                                             note="")  # fmt: skip
            self._report = self._bars.add_task("Response report", total=None, start=False, note="")
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bars is not None:
            self._bars.stop()

    def advanced(self, now: datetime) -> None:
        """The round's clock reached `now` (the world acted it out)."""
        if self._bars is None:
            return
        if not self._bars.tasks[self._campaign].finished:
            self._bars.update(self._campaign, total=1, completed=1)
            self._bars.start_task(self._days)
        elapsed = min((now - self.start) / timedelta(days=1), float(self.days))
        self._bars.update(self._days, completed=elapsed, note=f"{now:%a %d %b %H:%M} UTC")
        if elapsed >= self.days:
            self._bars.start_task(self._report)

    def done(self) -> None:
        if self._bars is not None:
            self._bars.update(self._report, total=1, completed=1)
