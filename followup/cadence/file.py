"""Reading a cadence file: the shipped default.yaml, or the user's own (FOLLOWUP_CADENCE_FILE).

The file is read as YAML nodes rather than plain values, so every refusal can name the line it
is about. Times are read from the text as written: YAML 1.1 would read an unquoted 17:00 as the
number 1020.
"""

from __future__ import annotations

import importlib.resources
import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from followup.cadence.spec import (
    ANY_CHANNEL,
    DECISIONS,
    KINDS,
    KINDS_FOR_DECISION,
    OWN_CHANNEL,
    Cadence,
    CadenceSpec,
    Experiment,
    Step,
)
from followup.channels import CHANNEL_NAMES


class CadenceFileError(ValueError):
    """A cadence file that cannot be used: the message names the file, the line and the problem."""


TOP_LEVEL_KEYS = (
    "send_window",
    "rejection_delay_business_days",
    "out_of_office_postpone_business_days",
    "keep_in_touch",
    "experiment",
    "cadences",
)
# Keys a file may leave out: added after files were written that lack them, which keep working.
OPTIONAL_TOP_LEVEL_KEYS = ("hold_email_nudges_until_replies_tracked",)
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")


def default_cadence_file() -> Path:
    """The cadence file shipped with followup (package data, so an installed tool has it too)."""
    return Path(str(importlib.resources.files("followup.cadence") / "default.yaml"))


def load_cadence(path: Path | None = None) -> CadenceSpec:
    """The cadence in `path`, or the shipped defaults when None, read once per process.
    Raises CadenceFileError."""
    return _load(path if path is not None else default_cadence_file())


@lru_cache(maxsize=8)
def _load(source: Path) -> CadenceSpec:
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CadenceFileError(f"cadence file {source}: not UTF-8 text") from None
    except OSError as exc:
        raise CadenceFileError(f"cadence file {source}: cannot be read ({exc.strerror or exc})") from None
    return parse_cadence(text, str(source))


def parse_cadence(text: str, source: str) -> CadenceSpec:
    """The cadence a file's text says; `source` names the file in messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = f"{exc.problem} ({exc.context})" if exc.problem and exc.context else exc.problem or exc.context
        raise CadenceFileError(f"cadence file {source}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise CadenceFileError(f"cadence file {source}: not valid YAML: {exc}") from None
    if root is None:
        raise CadenceFileError(f"cadence file {source}: the file is empty; start from a copy of "
                               f"{default_cadence_file()}")  # fmt: skip
    return _Reader(source).spec(root)


def _shown(node: Node) -> str:
    """A value as a refusal quotes it: the text as written, or what kind of thing it is."""
    if isinstance(node, ScalarNode):
        return repr(node.value) if node.value else "nothing"
    return "a list" if isinstance(node, SequenceNode) else "a mapping"


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.constructor = SafeConstructor()

    def fail(self, node: Node, problem: str) -> NoReturn:
        raise CadenceFileError(f"cadence file {self.source}, line {node.start_mark.line + 1}: {problem}")

    def keys(
        self, node: Node, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Node]:
        """A mapping's values by key: an unknown key (a typo), a key given twice or a missing
        one is refused. `where` prefixes the messages ("" at the top level)."""
        prefix = _at(where)
        if not isinstance(node, MappingNode):
            self.fail(node, f"{prefix}expected keys and values ({', '.join(required)}), not {_shown(node)}")
        allowed = (*required, *optional)
        found: dict[str, Node] = {}
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key not in allowed:
                shown = repr(key) if key is not None else _shown(key_node)
                self.fail(key_node, f"{prefix}unknown key {shown}; the keys are {', '.join(allowed)}")
            if key in found:
                self.fail(key_node, f"{prefix}{key} is given twice (first on line {found[key].start_mark.line + 1})")
            found[key] = value
        for key in required:
            if key not in found:
                self.fail(node, f"{prefix}{key} is missing")
        return found

    def value(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            return None
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError):  # a tag such as !!python/object: the checks refuse its text
            return node.value

    def whole(self, node: Node, where: str, key: str, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
            maximum is not None and value > maximum
        ):
            wanted = f"of {minimum} or more" if maximum is None else f"from {minimum} to {maximum}"
            self.fail(node, f"{_at(where)}{key} must be a whole number {wanted}, not {_shown(node)}")
        return value

    def switch(self, node: Node, where: str, key: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            self.fail(node, f"{_at(where)}{key} must be true or false, not {_shown(node)}")
        return value

    def one_of(self, node: Node, where: str, key: str, choices: tuple[str, ...]) -> str:
        if not isinstance(node, ScalarNode) or node.value not in choices:
            self.fail(node, f"{where}: {key} must be {_listed(choices)}, not {_shown(node)}")
        return node.value

    def clock(self, node: Node, where: str, key: str, end_of_day: bool = False) -> time:
        """`end_of_day`: "24:00" is allowed, as the last moment of the day (a window to midnight)."""
        # The text as written: an unquoted 17:00 is a YAML 1.1 number, and "09:00" a string.
        match = _HH_MM.match(node.value) if isinstance(node, ScalarNode) else None
        if end_of_day and match is not None and match[0] == "24:00":
            return time.max
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            self.fail(node, f"{where}: {key} must be a time of day as HH:MM (e.g. \"09:00\"), not {_shown(node)}")
        return time(int(match[1]), int(match[2]))

    def spec(self, root: Node) -> CadenceSpec:
        if not isinstance(root, MappingNode):
            self.fail(root, f"expected the keys {', '.join(TOP_LEVEL_KEYS)}, not {_shown(root)}")
        top = self.keys(root, "", TOP_LEVEL_KEYS, OPTIONAL_TOP_LEVEL_KEYS)
        window = self.keys(top["send_window"], "send_window", ("opens", "closes"), ("business_days_only",))
        opens = self.clock(window["opens"], "send_window", "opens")
        closes = self.clock(window["closes"], "send_window", "closes", end_of_day=True)
        business_days_only = True
        if "business_days_only" in window:
            business_days_only = self.switch(window["business_days_only"], "send_window", "business_days_only")
        if closes <= opens:
            self.fail(window["closes"], f"send_window: closes ({closes:%H:%M}) must come after opens ({opens:%H:%M})")
        keep = self.keys(top["keep_in_touch"], "keep_in_touch", ("enabled", "weeks"))
        enabled = self.switch(keep["enabled"], "keep_in_touch", "enabled")
        weeks = self.whole(keep["weeks"], "keep_in_touch", "weeks", minimum=1)
        hold_key = "hold_email_nudges_until_replies_tracked"
        hold = self.switch(top[hold_key], "", hold_key) if hold_key in top else False
        return CadenceSpec(
            cadences=self.cadences(top["cadences"]),
            send_window=(opens, closes),
            business_days_only=business_days_only,
            reject_delay_business_days=self.whole(
                top["rejection_delay_business_days"], "", "rejection_delay_business_days"
            ),
            out_of_office_business_days=self.whole(
                top["out_of_office_postpone_business_days"], "", "out_of_office_postpone_business_days"
            ),
            keep_in_touch_weeks=weeks if enabled else None,
            experiment=self.experiment(top["experiment"]),
            hold_email_nudges_until_replies_tracked=hold,
            source=self.source,
        )

    def experiment(self, node: Node) -> Experiment:
        where = "experiment"
        found = self.keys(node, where, ("share", "max_delay_business_days", "hours"))
        share = self.value(found["share"])
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            self.fail(found["share"], f"{where}: share must be a number from 0 to 1, not {_shown(found['share'])}")
        delay = self.whole(found["max_delay_business_days"], where, "max_delay_business_days")
        hours = self.keys(found["hours"], f"{where}: hours", ("from", "to"))
        start = self.whole(hours["from"], f"{where}: hours", "from", maximum=24)
        end = self.whole(hours["to"], f"{where}: hours", "to", maximum=24)
        if end <= start:
            self.fail(hours["to"], f"{where}: hours: to ({end}) must be after from ({start})")
        return Experiment(share=float(share), max_delay_days=delay, hours=(start, end))

    def cadences(self, node: Node) -> tuple[Cadence, ...]:
        if not isinstance(node, SequenceNode) or not node.value:
            self.fail(node, f"cadences must be a list of cadences (decision, first_channel, steps), not {_shown(node)}")
        cadences: list[Cadence] = []
        seen: dict[tuple[str, str], Node] = {}
        for number, item in enumerate(node.value, start=1):
            where = f"cadence {number}"
            found = self.keys(item, where, ("decision", "first_channel", "steps"))
            decision = self.one_of(found["decision"], where, "decision", DECISIONS)
            first = self.one_of(found["first_channel"], where, "first_channel", (*CHANNEL_NAMES, ANY_CHANNEL))
            if (decision, first) in seen:
                earlier = seen[(decision, first)].start_mark.line + 1
                self.fail(item, f"{where}: {decision}/{first} has a cadence already (on line {earlier}): one each")
            seen[(decision, first)] = item
            cadences.append(Cadence(decision, first, self.steps(found["steps"], decision, first)))
        for decision in DECISIONS:
            for channel in CHANNEL_NAMES:
                if (decision, channel) not in seen and (decision, ANY_CHANNEL) not in seen:
                    self.fail(node, f"cadences: no cadence for {decision} by {channel}; add one with "
                                    f"decision: {decision} and first_channel: {channel} or {ANY_CHANNEL}")  # fmt: skip
        return tuple(cadences)

    def steps(self, node: Node, decision: str, first: str) -> tuple[Step, ...]:
        if not isinstance(node, SequenceNode) or not node.value:
            self.fail(node, f"{decision}/{first}: steps must be a list of one step or more, not {_shown(node)}")
        steps = []
        for number, item in enumerate(node.value):
            where = f"step {number} of {decision}/{first}"
            found = self.keys(item, where, ("kind", "channel"), ("after_business_days",))
            kind = self.one_of(found["kind"], where, "kind", KINDS)
            if kind not in KINDS_FOR_DECISION[decision]:
                self.fail(found["kind"], f"{where}: {kind} is not a message for the decision {decision}; "
                                         f"it takes {_listed(KINDS_FOR_DECISION[decision])}")  # fmt: skip
            channels = self.channels(found["channel"], where)
            delay_node = found.get("after_business_days")
            if delay_node is None and number > 0:
                self.fail(item, f"{where}: after_business_days is missing (0: the same day as the step before)")
            delay = self.whole(delay_node, where, "after_business_days") if delay_node is not None else 0
            if number == 0 and delay:
                self.fail(delay_node, f"{where}: the first step waits for nothing: it goes in the first window "
                                      "once the decision is due; remove after_business_days")  # fmt: skip
            steps.append(Step(kind, channels, delay))
        return tuple(steps)

    def channels(self, node: Node, where: str) -> tuple[str, ...]:
        """One channel, or a list whose first reachable one is used (email when none is)."""
        choices = (*CHANNEL_NAMES, OWN_CHANNEL)
        items = node.value if isinstance(node, SequenceNode) else [node]
        if not items:
            self.fail(node, f"{where}: channel must name one channel or more, not an empty list")
        channels = tuple(self.one_of(item, where, "channel", choices) for item in items)
        for item, channel in zip(items, channels):
            if channels.count(channel) > 1:
                self.fail(item, f"{where}: channel lists {channel} twice")
            if channel == OWN_CHANNEL and len(channels) > 1:
                self.fail(item, f"{where}: {OWN_CHANNEL} (the candidate's own channel) stands alone, not in a list")
        return channels


def _at(where: str) -> str:
    """The prefix that says where in the file a problem is ("" at the top level)."""
    return f"{where}: " if where else ""


def _listed(choices: tuple[str, ...]) -> str:
    return ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
