"""Who holds a claim: a sending process named by host, pid and start time, and whether it lives.

A claim records its owner (claimed_by) so that a restart recognises the claims of a dead owner
at once rather than waiting for them to go stale. Reading the process table is all this module
does; the SQL that writes and settles claims is in sending.py and recovery.py.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from functools import cache

# Same-host owners match when their recorded start time is this close to the live process's:
# /proc gives it in clock ticks after boot, and the boot time itself is whole seconds.
_START_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Owner:
    """A sending process: its host, pid and start time (a recycled pid has another start time)."""

    host: str
    pid: int
    started_at: float  # unix time the process started

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.started_at:.2f}"

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_started_at(pid) or _IMPORTED_AT)

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner recorded in claimed_by, or None when another tool wrote something else there."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3:
            return None
        host, pid, started = parts
        try:
            return cls(host, int(pid), float(started))
        except ValueError:
            return None


_IMPORTED_AT = time.time()  # where /proc is missing: a stand-in, only ever compared on that same host


@cache
def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) of a live pid, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
    fields = text[text.rfind(")") + 2 :].split()
    return fields[0], int(fields[19])


def _process_started_at(pid: int) -> float | None:
    boot, stat = _boot_time(), _proc_stat(pid)
    if boot is None or stat is None:
        return None
    return boot + stat[1] / os.sysconf("SC_CLK_TCK")


def owner_is_alive(claimed_by: str) -> bool:
    """Whether the process recorded in claimed_by is still running.

    On this host: the pid exists, is not a zombie, and started when the owner says it did (so
    a pid the kernel has handed to a new process does not count). An owner on another host, or
    one this module did not write, cannot be checked from here and counts as alive;
    recovery.recover_dead_claims presumes such claims dead once they are older than STALE_CLAIM.
    """
    owner = Owner.parse(claimed_by)
    if owner is None or owner.host != socket.gethostname():
        return True
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    stat = _proc_stat(owner.pid)
    if stat is None:  # no /proc here: the pid's existence is all we can know
        return _boot_time() is None
    if stat[0] == "Z":  # killed, not yet reaped by its parent
        return False
    started = _process_started_at(owner.pid)
    return started is not None and abs(started - owner.started_at) <= _START_TOLERANCE_S
