"""Where templates live, how their names are read, and the Jinja2 environment they run in.

Layout of a templates folder (see templates/README.md):
  <kind>/<channel>.<part>[.<locale>].j2          the messages
  <kind>.<variant>/<channel>.<part>[.<locale>].j2 an A/B variant: only the parts it changes
  _layout/<name>.<part>[.<locale>].j2             the house layout and signature
  _company/<slug>/<name>.<part>[.<locale>].j2     one company's voice: only the files it changes
  _partials/*.j2                                  macros shared by several messages
"""

from __future__ import annotations

import importlib.resources
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.utils import missing

from followup.cadence.spec import BASE_VARIANT, KINDS
from followup.channels import CHANNELS

from .bounds import BoundedCodeGenerator, BoundedSandbox, BoundExceeded
from .formatting import FILTERS
from .message import RenderError
from .output import EmptyValue, MessageCodeGenerator, refuse_none

_KIND_FOLDER = re.compile(r"^(?P<kind>[a-z_]+)(?:\.(?P<variant>[a-z0-9][a-z0-9_-]*))?$")
PART_FILE = re.compile(r"^(?P<stem>[a-z_]+)\.(?P<part>[a-z]+)(?:\.(?P<locale>[A-Za-z]{2,3}(?:_\w+)?))?\.j2$")


def builtin_templates_dir() -> Path:
    """The templates shipped with followup: the repository's own folder in a checkout,
    the package data copy in an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "templates").is_dir():
        return root / "templates"
    return Path(str(importlib.resources.files("followup") / "builtin_templates"))


def locale_chain(locale: str) -> tuple[str, ...]:
    """'de_CH' -> ('de_CH', 'de'): the most specific file suffix first."""
    language = locale.split("_", 1)[0]
    return (locale,) if language == locale else (locale, language)


@lru_cache(maxsize=1024)  # asked once per part rendered
def is_html_template(name: str | None) -> bool:
    """Autoescape exactly the HTML parts: '<stem>.html[.<locale>].j2'."""
    if not name:
        return False
    pieces = name.rsplit("/", 1)[-1].split(".")
    return len(pieces) >= 3 and pieces[1] == "html"


class TemplateIndex:
    """Every template name the renderer can see; the user's folder overrides ours by path.

    Built once, so resolving a kind, variant, channel and locale to a file is set lookups.
    """

    def __init__(self, templates_dir: Path | None = None) -> None:
        self.builtin_dir = builtin_templates_dir()
        self.user_dir = Path(templates_dir).resolve() if templates_dir is not None else None
        self.builtin_names = _scan(self.builtin_dir)
        self.user_names = _scan(self.user_dir) if self.user_dir is not None else set()
        self.names = self.builtin_names | self.user_names
        # Jinja2 rewrites tracebacks so template frames carry the file name: map it back.
        self.by_filename: dict[str, str] = {}
        for folder, names in ((self.builtin_dir, self.builtin_names), (self.user_dir, self.user_names)):
            for name in names:
                self.by_filename[os.path.normpath(folder / name)] = name

    def loader(self) -> ChoiceLoader | FileSystemLoader:
        builtin = FileSystemLoader(str(self.builtin_dir))
        if self.user_dir is None:
            return builtin
        return ChoiceLoader([FolderLoader(str(self.user_dir)), builtin])

    def path(self, name: str) -> Path:
        if name in self.user_names and self.user_dir is not None:
            return self.user_dir / name
        return self.builtin_dir / name

    def resolve(self, folders: Sequence[str], stem: str, locales: Sequence[str]) -> str | None:
        """The first existing '<folder>/<stem>[.<locale>].j2': locale before folder, because a
        message in the reader's language matters more than which variant or company wrote it."""
        for suffix in (*locales, None):
            for folder in folders:
                name = f"{folder}/{stem}.{suffix}.j2" if suffix else f"{folder}/{stem}.j2"
                if name in self.names:
                    return name
        return None

    def variants(self, kind: str) -> list[str]:
        found = set()
        for name in self.names:
            match = _KIND_FOLDER.match(name.split("/", 1)[0])
            if match and match["kind"] == kind and match["variant"]:
                found.add(match["variant"])
        return [BASE_VARIANT, *sorted(found - {BASE_VARIANT})]

    def layout_stems(self) -> set[str]:
        """'email.txt', 'email.html', ...: what `layout[...]` can name."""
        stems = set()
        for name in self.names:
            folder, _, rest = name.partition("/")
            if folder in ("_layout", "_company"):
                match = PART_FILE.match(rest.rsplit("/", 1)[-1])
                if match:
                    stems.add(f"{match['stem']}.{match['part']}")
        return stems

    def locales(self) -> set[str]:
        found = set()
        for name in self.names:
            match = PART_FILE.match(name.rsplit("/", 1)[-1])
            if match and match["locale"]:
                found.add(match["locale"])
        return found

    def source_line(self, name: str, line: int) -> str:
        try:
            lines = self.path(name).read_text(encoding="utf-8").splitlines()
        except OSError:
            return ""
        return lines[line - 1] if 0 < line <= len(lines) else ""


class FolderLoader(FileSystemLoader):
    """A user's templates folder, and nothing outside it: a name that resolves elsewhere through a
    symbolic link (to a file, or to a folder) is refused before it is read, not silently served
    by our templates of the same name."""

    def get_source(self, environment: Environment, template: str):
        root = os.path.realpath(self.searchpath[0])
        path = os.path.realpath(os.path.join(root, *split_template_path(template)))
        if os.path.commonpath([root, path]) != root:
            raise SecurityError(f"{template} resolves outside the templates folder, through a symbolic link")
        return super().get_source(environment, template)


def _scan(folder: Path | None) -> set[str]:
    if folder is None or not folder.is_dir():
        return set()
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*.j2") if path.is_file()}


def naming_problems(names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, why) for files the renderer would silently never use: a typo must not hide."""
    problems = []
    for name in sorted(names):
        folder, _, rest = name.partition("/")
        if folder == "_partials":
            continue
        if folder in ("_layout", "_company"):
            base = rest.split("/", 1)[-1] if folder == "_company" else rest
            if (folder == "_company" and "/" not in rest) or not PART_FILE.match(base):
                problems.append((name, "not a layout name: expected <name>.<part>[.<locale>].j2"))
            continue
        kind_match = _KIND_FOLDER.match(folder)
        if not rest or kind_match is None or kind_match["kind"] not in KINDS:
            problems.append(
                (name, f"unknown message kind folder {folder!r}: expected one of {', '.join(KINDS)}")
            )
            continue
        if kind_match["variant"] == BASE_VARIANT:
            problems.append(
                (
                    name,
                    f"variant {BASE_VARIANT!r} is the base folder {kind_match['kind']}/: name the variant b, c, ...",
                )
            )
            continue
        part_match = PART_FILE.match(rest)
        if part_match is None or part_match["stem"] not in CHANNELS:
            problems.append(
                (
                    name,
                    "not a message part: expected <channel>.<part>[.<locale>].j2 with channel one of "
                    + ", ".join(CHANNELS),
                )
            )
            continue
        if part_match["part"] not in CHANNELS[part_match["stem"]].parts:
            allowed = ", ".join(CHANNELS[part_match["stem"]].parts)
            problems.append(
                (name, f"{part_match['stem']} has no part {part_match['part']!r}: expected one of {allowed}")
            )
    return problems


class MessageContext(Context):
    """Jinja2's Context, looking a name up with one dict call while the template has set no
    top-level variables of its own (vars), as ours never do: a message resolves some fifty
    names, and its filters read the locale and time zone ten more times."""

    def resolve_or_missing(self, key: str) -> Any:
        if self.vars:
            return super().resolve_or_missing(key)
        return self.parent.get(key, missing)


def make_environment(loader, *, sandboxed: bool) -> Environment:
    cls = BoundedSandbox if sandboxed else Environment
    env = cls(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=is_html_template,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are compiled once per process; nothing re-reads them while it runs.
        auto_reload=False,
        cache_size=-1,
        finalize=refuse_none,
    )
    env.code_generator_class = BoundedCodeGenerator if sandboxed else MessageCodeGenerator
    env.context_class = MessageContext
    env.filters.update(FILTERS)
    return env


_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined")
_MISSING_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'")
_PRINTED_NAME = re.compile(r"\{\{-?\s*([A-Za-z_][\w.]*)")


def render_error(
    exc: BaseException, index: TemplateIndex, template: str, context: Mapping[str, Any] | None = None
) -> RenderError:
    """Turn whatever a template raised into a RenderError naming the template, line and variable."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        name = index.by_filename.get(os.path.normpath(tb.tb_frame.f_code.co_filename))
        if name is not None:
            template, line = name, tb.tb_lineno
        tb = tb.tb_next
    variable = None
    if isinstance(exc, TemplateSyntaxError):
        template, line = exc.name or template, exc.lineno
        message = f"syntax error: {exc.message}"
    elif isinstance(exc, TemplateNotFound):
        message = f"template not found: {exc.name}"
    elif isinstance(exc, SecurityError):
        message = f"refused by the sandbox: {exc}"
    elif isinstance(exc, BoundExceeded):
        if line is None and exc.template:
            template = exc.template
        message = str(exc)
    elif isinstance(exc, UndefinedError):
        text = str(exc)
        match = _UNDEFINED_NAME.match(text) or _MISSING_ATTRIBUTE.search(text)
        variable = match.group(1) if match else None
        message = text
    elif isinstance(exc, EmptyValue):
        printed = _PRINTED_NAME.findall(index.source_line(template, line)) if line else []
        empty = [name for name in printed if context is None or context.get(name.split(".")[0]) is None]
        variable = ", ".join(dict.fromkeys(empty or printed)) or None
        message = "prints an empty value (None): give this optional field an explicit fallback"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return RenderError(message, template=template, line=line, variable=variable)
