"""Messages for every channel: Jinja2 templates in, transport-independent messages out.

    renderer = Renderer(templates_dir, company_defaults={...}, unsubscribe_base_url=..., unsubscribe_secret=...)
    context = candidate_context(candidate_row, decision_row, now=now, message_key=key, step=step)
    message = renderer.render("offer", "email", context, variant="a")

Compile once: build one Renderer per process and reuse it; it caches compiled templates and
the lookups from (kind, variant, channel, locale) to files.
"""

from pathlib import Path

from followup.channels import CHANNELS, MAX_VOICEMAIL_WORDS

from .channels import COMPANY_DEFAULT_KEYS, Renderer
from .context import (
    UNSUBSCRIBE_TOKEN_CHARS,
    assign_variant,
    candidate_context,
    message_key_from_unsubscribe_token,
    sample_contexts,
    unsubscribe_token,
)
from .environment import KINDS, TemplateIndex, builtin_templates_dir
from .lint import MAX_SUBJECT_CHARS, check_templates
from .message import Attachment, OutboundMessage, Problem, RenderError
from .pipeline import render_chunk


def available_variants(kind: str, templates_dir: Path | None = None) -> list[str]:
    """The variants of a kind: ["a"] plus one per sibling folder <kind>.<variant>/ ("a" is the base)."""
    return TemplateIndex(templates_dir).variants(kind)


__all__ = [
    "CHANNELS",
    "COMPANY_DEFAULT_KEYS",
    "KINDS",
    "MAX_SUBJECT_CHARS",
    "MAX_VOICEMAIL_WORDS",
    "UNSUBSCRIBE_TOKEN_CHARS",
    "Attachment",
    "OutboundMessage",
    "Problem",
    "RenderError",
    "Renderer",
    "assign_variant",
    "available_variants",
    "builtin_templates_dir",
    "candidate_context",
    "check_templates",
    "message_key_from_unsubscribe_token",
    "render_chunk",
    "sample_contexts",
    "unsubscribe_token",
]
