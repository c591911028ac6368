"""Bounds on what a user's template may cost: time per message, text per message, the size of
the numbers it builds. The sandbox already refuses reaching into Python; these stop a template
that is allowed everything it does but never finishes, or writes a gigabyte.

Where they hold (BoundedSandbox, the environment of a user's templates folder):
- time: every loop's iterable is paced (BoundedCodeGenerator wraps it) and every call from a
  template (macros too, so recursion is covered) checks the clock. Between two of those a
  template runs a fixed number of operations, each bounded by the next two rules.
- text: `*`, `+` and `~` refuse to build text (or a list) past the output bound, and the Renderer
  counts each piece of output. A filter that pads (`center`, `format`) is caught by the count
  after it ran, not before.
- numbers: `*` and `**` on integers refuse a result past MAX_DIGITS, before computing it.

A message over a bound raises BoundExceeded; the Renderer turns it into that message's
RenderError, naming the template and the bound, and the batch goes on.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from time import monotonic
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from .output import MessageCodeGenerator

# Our messages render in ~25 microseconds each: 2 s is 80,000 times that, room for any real
# template on a loaded machine, and short enough that `preview` answers and `templates check` ends.
MAX_RENDER_SECONDS = 2.0
# Our longest message is about 4,000 characters and a heavily styled HTML email some 100,000;
# a million is still a message, a gigabyte is not.
MAX_OUTPUT_CHARS = 1_000_000
# Salaries and dates need a dozen digits; 10**100 is far past any amount a message could name,
# and a product of that size costs microseconds (10**(10**7) cost 19 s).
MAX_DIGITS = 100
_MAX_BITS = math.ceil(MAX_DIGITS * math.log2(10))


class BoundExceeded(Exception):
    """A message went past a bound ("time", "output" or "number"); `template`, when known, names
    the part that did."""

    def __init__(self, bound: str, message: str, template: str | None = None) -> None:
        super().__init__(f"over the {bound} bound: {message}")
        self.bound = bound
        self.template = template


class _Deadline(threading.local):
    """When the message rendering on this thread must be done; none outside Renderer._run."""

    at = math.inf


_deadline = _Deadline()


def _check_time() -> None:
    if monotonic() > _deadline.at:
        raise BoundExceeded(
            "time",
            f"rendering took more than {MAX_RENDER_SECONDS:g} s, the most one message may take "
            f"(a loop or a macro that never ends?)",
        )


class MessageBudget:
    """One message's bounds while its parts render: the clock starts now, on this thread."""

    def __init__(self) -> None:
        self.chars = MAX_OUTPUT_CHARS
        _deadline.at = monotonic() + MAX_RENDER_SECONDS

    def join(self, chunks: Iterable[str], template: str) -> str:
        """The part's output, counted piece by piece as the template yields it. Not timed here: the
        time between two pieces is spent in loops and calls, which check the clock themselves."""
        pieces = []
        room = self.chars
        for chunk in chunks:
            room -= len(chunk)
            if room < 0:
                raise BoundExceeded(
                    "output",
                    f"the message is longer than {MAX_OUTPUT_CHARS:,} characters, the most one message may be",
                    template,
                )
            pieces.append(chunk)
        self.chars = room
        return "".join(pieces)

    def close(self) -> None:
        _deadline.at = math.inf


class Paced:
    """A loop's iterable, checking the clock at every step; its length is the iterable's, so
    loop.length and friends see what they saw before."""

    __slots__ = ("iterable",)

    def __init__(self, iterable: Any) -> None:
        self.iterable = iterable

    def __len__(self) -> int:
        return len(self.iterable)

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable:
            _check_time()
            yield item


def capped(text: str) -> str:
    """The result of `~`: text joined past the output bound goes no further."""
    if len(text) > MAX_OUTPUT_CHARS:
        raise _too_long("~", len(text))
    return text


def _too_long(operator: str, size: int) -> BoundExceeded:
    return BoundExceeded(
        "output",
        f"{operator!r} would build {size:,} characters (or items), more than the {MAX_OUTPUT_CHARS:,} one "
        f"message may hold",
    )


_SIZED = (str, list, tuple)


def _check_operands(operator: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a result past the output or the number bound."""
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            bits = right * math.log2(abs(left))
            if bits > _MAX_BITS:
                raise _too_big(operator, bits)
    elif operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            bits = left.bit_length() + right.bit_length()
            if bits > _MAX_BITS:
                raise _too_big(operator, bits)
        elif isinstance(left, _SIZED) and isinstance(right, int) and len(left) * right > MAX_OUTPUT_CHARS:
            raise _too_long(operator, len(left) * right)
        elif isinstance(right, _SIZED) and isinstance(left, int) and len(right) * left > MAX_OUTPUT_CHARS:
            raise _too_long(operator, len(right) * left)
    elif operator == "+":
        if isinstance(left, _SIZED) and isinstance(right, _SIZED) and len(left) + len(right) > MAX_OUTPUT_CHARS:
            raise _too_long(operator, len(left) + len(right))


def _too_big(operator: str, bits: float) -> BoundExceeded:
    return BoundExceeded(
        "number",
        f"{operator!r} would build a number of about {bits * math.log10(2):,.0f} digits, more than the "
        f"{MAX_DIGITS} a template may build",
    )


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, with the bounds above."""

    # Intercepted operators are also never folded at compile time, where 10**(10**7) once ran.
    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _check_operands(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # the sandbox's own signature
        _check_time()
        return SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)


class BoundedCodeGenerator(MessageCodeGenerator):
    """Compiles every loop's iterable as Paced(...) and every `~` as capped(...)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def visit_Template(self, node, frame=None) -> None:
        self.writeline(f"from {__name__} import Paced, capped")
        super().visit_Template(node, frame)

    def visit_For(self, node, frame) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit_Concat(self, node, frame) -> None:
        self.write("capped(")
        super().visit_Concat(node, frame)
        self.write(")")

    def visit(self, node, *args, **kwargs):
        if id(node) not in self._loop_iterables:
            return super().visit(node, *args, **kwargs)
        self.write("Paced(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None
