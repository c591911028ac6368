"""`followup templates check`: every template against every sample candidate.

Static checks see branches no sample takes (unknown variables, reaching for internals);
rendering the samples checks what only output can show (limits, the .ics, escaping).
"""

from __future__ import annotations

import re
from pathlib import Path

from icalendar import Calendar
from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from pydantic import SecretStr

from followup.channels import CHANNELS

from .bounds import BoundExceeded
from .channels import Renderer
from .context import sample_contexts
from .environment import KINDS, PART_FILE, naming_problems
from .formatting import DEFAULT_LOCALE, normalise_locale
from .message import Problem, RenderError

MAX_SUBJECT_CHARS = 78
LINT_DEFAULTS = {"office": "Sample House, 1 Example Street", "phone": "+1 212 555 0100"}
LINT_UNSUBSCRIBE_URL = "https://followup.example/unsubscribe"
# The sample links need a signature to render, not the real secret: they are never sent.
LINT_UNSUBSCRIBE_SECRET = SecretStr("templates-check")
# Keys the renderer adds to the candidate's context (see Renderer.complete).
RENDER_KEYS = frozenset(
    {"layout", "callback_phone", "variant", "unsubscribe_url", "meeting_start", "meeting_place"}
)
NUDGE_STEPS = (1, 2)
HOSTILE_MARKUP = "<script>alert(1)</script>"


def check_templates(templates_dir: Path | None = None) -> list[Problem]:
    """Problems in the built-in templates, overridden by templates_dir; [] means all good."""
    renderer = Renderer(
        templates_dir,
        company_defaults=LINT_DEFAULTS,
        unsubscribe_base_url=LINT_UNSUBSCRIBE_URL,
        unsubscribe_secret=LINT_UNSUBSCRIBE_SECRET,
    )
    index = renderer.index
    samples = sample_contexts()
    problems: list[Problem] = []
    for name, why in naming_problems(index.user_names if templates_dir is not None else index.names):
        problems.append(Problem(name, None, why))
    for name in sorted(index.names):
        match = PART_FILE.match(name.rsplit("/", 1)[-1])
        if match and match["locale"] and normalise_locale(match["locale"]) != match["locale"]:
            problems.append(
                Problem(
                    name,
                    None,
                    f"unknown locale suffix {match['locale']!r}: write it as babel does (de, de_CH)",
                )
            )
    known = set(samples[0]) | RENDER_KEYS | set(renderer.env.globals)
    for name in sorted(index.names):
        problems.extend(_static_problems(renderer, name, known))
    locales = (None, *sorted(index.locales()))
    # A message that ran out of time will for every other sample too: reported once, tried no more.
    stuck: set[tuple[str, str, str]] = set()
    for kind in KINDS:
        steps = NUDGE_STEPS if kind == "offer_nudge" else (0,)
        for variant in renderer.variants(kind):
            for channel in CHANNELS:
                for locale in locales:
                    for sample in samples:
                        for step in steps:
                            if (kind, variant, channel) in stuck:
                                continue
                            context = {**sample, "step": step}
                            if locale is not None:
                                context["locale"] = locale
                            problems.extend(_render_problems(renderer, kind, channel, variant, context, stuck))
    return _first_of_each(problems)


def _first_of_each(problems: list[Problem]) -> list[Problem]:
    """One finding per template, line and rule, however many samples hit it (counts aside);
    the details after ' -- ' name the first sample that did."""
    seen: dict[tuple[str, int | None, str], Problem] = {}
    for problem in problems:
        rule = re.sub(r"\d+", "#", problem.message.split(" -- ")[0])
        seen.setdefault((problem.template, problem.line, rule), problem)
    return list(seen.values())


def _static_problems(renderer: Renderer, name: str, known: set[str]) -> list[Problem]:
    env = renderer.env
    try:
        # Through the loader, which refuses a file outside the folder before reading it.
        source, filename, _ = env.loader.get_source(env, name)
        tree = env.parse(source, name, filename)
    except SecurityError as exc:
        return [Problem(name, None, f"refused by the sandbox: {exc}")]
    except TemplateSyntaxError as exc:
        return [Problem(name, exc.lineno, f"syntax error: {exc.message}")]
    problems = []
    for variable in sorted(meta.find_undeclared_variables(tree) - known):
        line = next((node.lineno for node in tree.find_all(nodes.Name) if node.name == variable), None)
        problems.append(Problem(name, line, f"unknown variable {variable!r}: no candidate context has it"))
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            attribute = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attribute = node.arg.value
        else:
            continue
        if attribute.startswith("_"):
            problems.append(
                Problem(
                    name,
                    node.lineno,
                    f"reaches for the internal attribute {attribute!r}, which the sandbox refuses",
                )
            )
    return problems


def _render_problems(
    renderer: Renderer, kind: str, channel: str, variant: str, context: dict, stuck: set[tuple[str, str, str]]
) -> list[Problem]:
    try:
        message = renderer.render(kind, channel, context, variant=variant)
    except RenderError as exc:
        if isinstance(exc.__cause__, BoundExceeded) and exc.__cause__.bound == "time":
            stuck.add((kind, variant, channel))
        variable = f" (variable {exc.variable!r})" if exc.variable else ""
        return [
            Problem(exc.template, exc.line, f"{exc.message}{variable} -- sample {context['candidate_id']}")
        ]
    names = renderer.template_names(
        kind, variant, channel, normalise_locale(context["locale"]) or DEFAULT_LOCALE
    )
    problems = []
    if message.subject is not None and len(message.subject) > MAX_SUBJECT_CHARS:
        problems.append(
            Problem(
                names["subject"],
                None,
                f"the subject has {len(message.subject)} characters, more than the {MAX_SUBJECT_CHARS}"
                f" of one header line -- sample {context['candidate_id']}",
            )
        )
    by_mail = CHANNELS[message.channel].by_mail
    if by_mail and not (message.text or "").strip():
        problems.append(Problem(names["txt"], None, "the plain-text part is empty"))
    if not by_mail and not (message.script or "").strip():
        problems.append(Problem(names["txt"], None, f"the {message.channel} script is empty"))
    if message.html is not None and HOSTILE_MARKUP in message.html:
        problems.append(
            Problem(
                names["html"], None, "candidate data reaches the HTML unescaped (|safe or Markup on a field)"
            )
        )
    for attachment in message.attachments:
        if attachment.content_type.startswith("text/calendar"):
            problems.extend(_calendar_problems(names["event"], attachment.content))
    return problems


def _calendar_problems(template: str, content: bytes) -> list[Problem]:
    try:
        events = Calendar.from_ical(content).walk("VEVENT")
        start = events[0].decoded("dtstart") if events else None
    except (ValueError, KeyError, IndexError) as exc:
        return [Problem(template, None, f"the .ics attachment does not parse: {exc}")]
    if start is None or getattr(start, "tzinfo", None) is None:
        return [Problem(template, None, "the .ics attachment has no event with a zoned start time")]
    return []
