"""Reading a cadence file: the shipped defaults, or the user's own (FOLLOWUP_CADENCE_FILE).

(Until the YAML file lands, the defaults are written here in Python; load_cadence keeps its
signature when the file takes their place.)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from followup.cadence.spec import ANY_CHANNEL, OWN_CHANNEL, Cadence, CadenceSpec, Step


class CadenceFileError(ValueError):
    """A cadence file that cannot be used: the message names the file, the line and the problem."""


def _default() -> CadenceSpec:
    return CadenceSpec(cadences=(
        Cadence("offer", "email", (
            Step("offer", ("email",)),
            Step("offer_nudge", ("email",), 2),
            Step("offer_nudge", ("email",), 3),
            Step("offer_nudge", ("voicemail", "in_person"), 2),
        )),
        Cadence("offer", "voicemail", (
            Step("offer", ("voicemail",)),
            Step("offer", ("email",), 0),
            Step("offer_nudge", ("voicemail",), 2),
            Step("offer_nudge", ("email",), 3),
        )),
        Cadence("offer", "in_person", (
            Step("offer", ("in_person",)),
            Step("offer_nudge", ("email",), 2),
            Step("offer_nudge", ("voicemail",), 3),
        )),
        Cadence("reject", ANY_CHANNEL, (Step("rejection", (OWN_CHANNEL,)),)),
    ))  # fmt: skip


@lru_cache(maxsize=8)
def load_cadence(path: Path | None = None) -> CadenceSpec:
    """The cadence in `path`, or the shipped defaults when None. Raises CadenceFileError."""
    if path is not None:
        raise CadenceFileError(f"{path}: cadence files are not read yet")
    return _default()
