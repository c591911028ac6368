"""How a template prints: the code Jinja2 compiles `{{ x }}` and the text around it into, run
for every field of every message.

Jinja2 compiles `{{ x }}` to escape(environment.finalize(x)) in HTML parts and
str(environment.finalize(x)) in text parts, and yields every piece of output on its own. The
checks are right and kept; what cost was markupsafe building a Markup object for every
printed value (a sixth of rendering an email), though candidate data rarely holds a character
HTML escapes, and the yields: each one travels up through the block, the layout and the
child template's generators. The code generator below compiles the same checks into one call,
print_html or print_text (print_html escapes only a value that needs it), and yields each
run of output between two tags as one string.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from markupsafe import escape

_ESCAPED_CHARS = re.compile("[&<>\"']").search


class EmptyValue(Exception):
    """A template printed None: an optional field without an explicit fallback."""


def refuse_none(value: object) -> object:
    """The environment's finalize: Jinja2 still applies it to constants at compile time."""
    if value is None:
        raise EmptyValue()
    return value


def print_html(value: Any) -> str:
    """escape(refuse_none(value)), without a Markup object for text that escapes to itself."""
    if type(value) is str:
        return escape(value) if _ESCAPED_CHARS(value) else value
    return escape(refuse_none(value))


def print_text(value: Any) -> str:
    """str(refuse_none(value))."""
    if type(value) is str:
        return value
    return str(refuse_none(value))


class MessageCodeGenerator(CodeGenerator):
    """Jinja2's code generator, printing through print_html / print_text, one yield per run."""

    def visit_Template(self, node, frame=None) -> None:
        self.writeline(f"from {__name__} import print_html, print_text")
        super().visit_Template(node, frame)

    def _output_child_pre(self, node, frame, finalize) -> None:
        # Volatile: {% autoescape %} with a value known only at run time; Jinja2 decides then.
        if frame.eval_ctx.volatile:
            super()._output_child_pre(node, frame, finalize)
        else:
            self.write("print_html(" if frame.eval_ctx.autoescape else "print_text(")

    def _output_child_post(self, node, frame, finalize) -> None:
        if frame.eval_ctx.volatile:
            super()._output_child_post(node, frame, finalize)
        else:
            self.write(")")

    def visit_Output(self, node, frame) -> None:
        """`yield concat((piece, piece, ...))`: each piece on its own line, so an error still
        names its template line. Jinja2 keeps its own code for output into a buffer (macros,
        {% set %} blocks) and for output a child template must skip (outside its blocks)."""
        if frame.buffer is not None or frame.require_output_check or len(node.nodes) < 2:
            super().visit_Output(node, frame)
            return
        finalize = self._make_finalize()
        self.writeline("yield concat((")
        self.indent()
        for child in node.nodes:
            try:
                # As Jinja2 does: text, and constants finalize can take, become literals.
                if not (finalize.const or isinstance(child, nodes.TemplateData)):
                    raise nodes.Impossible()
                self.writeline(repr(self._output_child_to_const(child, frame, finalize)) + ",")
            except (nodes.Impossible, Exception):
                self.newline(child)
                self._output_child_pre(child, frame, finalize)
                self.visit(child, frame)
                self._output_child_post(child, frame, finalize)
                self.write(",")
        self.outdent()
        self.writeline("))")
