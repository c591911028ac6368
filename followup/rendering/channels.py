"""The Renderer: one compiled environment, every channel, one OutboundMessage per call.

Everything channel-specific in render() reads the channel's declaration (followup.channels):
its parts, whether it goes by mail or as a script read aloud, its word limit, its invitation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from jinja2 import Template
from pydantic import SecretStr

from followup.cadence import calendar
from followup.channels import CHANNELS, Channel

from . import ics
from .bounds import MessageBudget
from .context import unsubscribe_token
from .environment import (
    BASE_VARIANT,
    KINDS,
    TemplateIndex,
    locale_chain,
    make_environment,
    render_error,
)
from .formatting import DEFAULT_LOCALE, get_zone, normalise_locale, writing_locale
from .message import Attachment, OutboundMessage, RenderError

ONE_CLICK = "List-Unsubscribe=One-Click"


class _Part(NamedTuple):
    """The file that renders one part of a message, compiled, and the locale it writes in."""

    name: str
    template: Template
    locale: str


# Messages that re-engage people who did not get the job: they must be easy to stop (RFC 8058).
UNSUBSCRIBABLE_KINDS = frozenset({"keep_in_touch"})
# An invitation names its slot and place on every channel, not only with an .ics attached.
MEETING_KINDS = frozenset({"in_person_invite"})

COMPANY_DEFAULT_KEYS = {
    "company": "company name when a row has none",
    "office": "the default meeting place (the company's office address)",
    "timezone": "IANA time zone when a candidate has none",
    "country": "ISO 3166 alpha-2 region for reading national phone numbers",
    "locale": "locale when a candidate has none",
    "phone": "call-back number when a row has no recruiter_phone",
    "meeting_minutes": "length of an in-person meeting",
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=4096)
def _parse_phone(raw: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


@lru_cache(maxsize=4096)
def _e164(raw: str, region: str | None) -> str | None:
    number = _parse_phone(raw, region)
    return None if number is None else phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def _readable_phone(raw: str, region: str | None) -> str:
    """National format for a listener in the same country, international otherwise."""
    number = _parse_phone(raw, region)
    if number is None:
        return raw
    same_country = region is not None and phonenumbers.region_code_for_number(number) == region
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if same_country
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def _slug(company: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in company.lower()).split())


class Renderer:
    """Renders messages from the built-in templates, or from a user's folder overriding them
    by path. A user's templates are untrusted code and run in a SandboxedEnvironment."""

    def __init__(
        self,
        templates_dir: Path | None = None,
        *,
        company_defaults: dict | None = None,
        unsubscribe_base_url: str | None = None,
        unsubscribe_secret: SecretStr | None = None,
        variants_off: Iterable[str] = (),
    ) -> None:
        defaults = dict(company_defaults or {})
        unknown = sorted(set(defaults) - set(COMPANY_DEFAULT_KEYS))
        if unknown:
            raise ValueError(
                f"unknown company default(s): {', '.join(unknown)}; known: {', '.join(COMPANY_DEFAULT_KEYS)}"
            )
        if defaults.get("timezone"):
            ZoneInfo(defaults["timezone"])  # refuse a bad default now, not once per message
        self.defaults = defaults
        self.unsubscribe_base_url = unsubscribe_base_url.rstrip("/") if unsubscribe_base_url else None
        self._unsubscribe_secret = unsubscribe_secret
        self.index = TemplateIndex(templates_dir)
        self.sandboxed = templates_dir is not None
        self.env = make_environment(self.index.loader(), sandboxed=self.sandboxed)
        self._parts: dict[tuple[str, str, str, str], dict[str, tuple[str, Template]]] = {}
        self._layouts: dict[tuple[str | None, str], dict[str, str]] = {}
        self._variants: dict[str, list[str]] = {}
        self._variants_off = frozenset(variants_off)
        self._globals = dict(self.env.globals)

    def variants(self, kind: str) -> list[str]:
        """The variants this kind's messages are spread over: those the templates hold, less
        those turned off (FOLLOWUP_VARIANTS_OFF, "offer.b"); the base is never off."""
        if kind not in self._variants:
            self._variants[kind] = [v for v in self.index.variants(kind)
                                    if v == BASE_VARIANT or not self.turned_off(kind, v)]  # fmt: skip
        return self._variants[kind]

    def turned_off(self, kind: str, variant: str) -> bool:
        return f"{kind}.{variant}" in self._variants_off

    def _layout_names(self, company: str | None, locale: str) -> dict[str, str]:
        """layout["email.txt"] -> the company's own layout file if it has one, else the house
        one; resolved once per company and locale, then a dict read per message."""
        key = (company, locale)
        found = self._layouts.get(key)
        if found is None:
            folders = (f"_company/{_slug(company)}", "_layout") if company else ("_layout",)
            chain = locale_chain(locale)
            resolved = {stem: self.index.resolve(folders, stem, chain) for stem in self.index.layout_stems()}
            # Another company's extra file is not this company's layout: leave it undefined.
            found = {stem: name for stem, name in resolved.items() if name is not None}
            self._layouts[key] = found
        return found

    def _templates(self, kind: str, variant: str, channel: str, locale: str) -> dict[str, _Part]:
        key = (kind, variant, channel, locale)
        found = self._parts.get(key)
        if found is not None:
            return found
        folders = (kind,) if variant == BASE_VARIANT else (f"{kind}.{variant}", kind)
        found = {}
        for part in CHANNELS[channel].parts:
            name = self.index.resolve(folders, f"{channel}.{part}", locale_chain(locale))
            if name is None:
                raise RenderError(f"no template for the {part} part", template=f"{kind}/{channel}.{part}.j2")
            try:
                found[part] = _Part(name, self.env.get_template(name), writing_locale(name, locale))
            except Exception as exc:
                raise render_error(exc, self.index, name) from exc
        self._parts[key] = found
        return found

    def template_names(self, kind: str, variant: str, channel: str, locale: str) -> dict[str, str]:
        """Which file renders each part of a message (after variant and locale fallbacks)."""
        return {part: found.name for part, found in self._templates(kind, variant, channel, locale).items()}

    def complete(
        self,
        kind: str,
        channel: str,
        context: Mapping[str, Any],
        *,
        variant: str,
        template: str,
        locale: str,
        reader_locale: str,
    ) -> dict:
        """The context a template sees: the candidate's, plus company defaults and what this
        kind and channel need (layouts, call-back number, unsubscribe link, meeting slot).
        `locale` is the one the text is written in; `reader_locale` the candidate's own, which
        money follows: digits and separators carry no words, so a reader in Brazil gets
        "R$ 386.000" in an English letter (English has no Brazilian form to fall back on)."""
        # The globals go into the context once per message, so its parts can render shared.
        ctx = {**self._globals, **context, "locale": locale, "number_locale": reader_locale}
        defaults = self.defaults
        if ctx.get("company") is None:
            ctx["company"] = defaults.get("company")
        ctx["layout"] = self._layout_names(ctx["company"], locale)
        zone_name = ctx.get("timezone") or defaults.get("timezone") or "UTC"
        try:
            zone = get_zone(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RenderError(
                f"unknown time zone {zone_name!r}", template=template, variable="timezone"
            ) from exc
        ctx["timezone"] = zone_name
        region = ctx.get("country") or defaults.get("country")
        callback = ctx.get("recruiter_phone") or defaults.get("phone")
        ctx["callback_phone"] = _readable_phone(callback, region) if callback else None
        if not CHANNELS[channel].by_mail and ctx["callback_phone"] is None:
            # Checked before the script renders, so the error names the missing setting rather
            # than the template line that would print nothing.
            raise RenderError(
                f"a {channel} ends with a call-back number: recruiter_phone is empty and no company "
                "phone is configured (FOLLOWUP_PHONE)",
                template=template,
                variable="recruiter_phone",
            )
        ctx["variant"] = variant
        ctx["unsubscribe_url"] = None
        if kind in UNSUBSCRIBABLE_KINDS and CHANNELS[channel].by_mail:
            if not self.unsubscribe_base_url:
                raise RenderError(
                    "keep-in-touch mail must carry an unsubscribe link, and no unsubscribe base URL is configured "
                    "(FOLLOWUP_UNSUBSCRIBE_URL)",
                    template=template,
                    variable="unsubscribe_url",
                )
            if self._unsubscribe_secret is None:
                raise RenderError(
                    "keep-in-touch mail must carry an unsubscribe link, and no secret is configured to sign it "
                    "(FOLLOWUP_SECRET_KEY)",
                    template=template,
                    variable="unsubscribe_url",
                )
            if not ctx.get("message_key"):
                raise RenderError(
                    "the unsubscribe link is made from the message key, and there is none",
                    template=template,
                    variable="message_key",
                )
            token = unsubscribe_token(ctx["message_key"], self._unsubscribe_secret)
            ctx["unsubscribe_url"] = f"{self.unsubscribe_base_url}/{token}"
        ctx["meeting_start"] = ctx["meeting_place"] = None
        if kind in MEETING_KINDS or CHANNELS[channel].calendar_invite:
            # The office's country closes it on its holidays; without one, the candidate's.
            office_country = defaults.get("country") or ctx.get("country")
            ctx["meeting_start"] = ics.meeting_start(ctx.get("meeting_at"), ctx["now"], zone, office_country)
            ctx["meeting_place"] = ctx.get("meeting_location") or defaults.get("office")
            if ctx["meeting_place"] is None:
                raise RenderError(
                    "no meeting place: meeting_location is empty and no company office is configured (FOLLOWUP_OFFICE)",
                    template=template,
                    variable="meeting_location",
                )
        return ctx

    def render(
        self, kind: str, channel: str, context: Mapping[str, Any], *, variant: str | None = None
    ) -> OutboundMessage:
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}: expected one of {', '.join(KINDS)}")
        spec = CHANNELS.get(channel)
        if spec is None:
            raise ValueError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
        variant = variant or BASE_VARIANT
        if variant not in self.variants(kind):
            raise ValueError(
                f"unknown variant {variant!r} of {kind}: templates have {', '.join(self.variants(kind))}"
            )
        locale = (
            normalise_locale(context.get("locale"))
            or normalise_locale(self.defaults.get("locale"))
            or DEFAULT_LOCALE
        )
        parts = self._templates(kind, variant, channel, locale)
        first = parts[spec.parts[0]]
        main = first.name
        ctx = self.complete(
            kind, channel, context, variant=variant, template=main, locale=first.locale, reader_locale=locale
        )
        try:
            out = self._run(parts, ctx)
        except Exception as exc:
            raise render_error(exc, self.index, main, ctx) from exc
        if not spec.by_mail:
            return self._script(kind, variant, main, ctx, out[spec.parts[0]], spec)
        subject = _one_line(out["subject"])
        text = out["txt"].strip() + "\n"
        html = out["html"].strip() + "\n"
        headers = {}
        if ctx["unsubscribe_url"]:
            headers = {"List-Unsubscribe": f"<{ctx['unsubscribe_url']}>", "List-Unsubscribe-Post": ONE_CLICK}
        attachments = ()
        if spec.calendar_invite:
            attachments = (self._invitation(kind, ctx, out["event"]),)
        return OutboundMessage(
            kind=kind,
            channel=channel,
            variant=variant,
            template=main,
            subject=subject,
            text=text,
            html=html,
            script=None,
            attachments=attachments,
            headers=headers,
            call_sheet_row=None,
        )

    def _run(self, parts: dict[str, _Part], ctx: dict) -> dict[str, str]:
        """Template.render for each part, minus its per-call copy of the context and of the
        template's globals (a ChainMap): that copy costs more than rendering a short part. The
        parts of one message share one context that already holds the globals; templates
        cannot write to it ({% set %} goes to the template's own scope). The Context is built
        directly because template.new_context lists the globals' names again each time, for
        {% import %} of a module only. A user's templates render within the bounds of
        followup.rendering.bounds, counted over the whole message."""
        env = self.env
        out = {}
        budget = MessageBudget() if self.sandboxed else None
        try:
            for part, (name, template, locale) in parts.items():
                # Each part formats money and dates in its own file's language (a German
                # subject over an English body stays consistent within each part).
                part_ctx = ctx if locale == ctx["locale"] else {**ctx, "locale": locale}
                context = env.context_class(env, part_ctx, template.name, template.blocks)
                chunks = template.root_render_func(context)
                out[part] = env.concat(chunks) if budget is None else budget.join(chunks, name)
        except Exception:
            env.handle_exception()  # re-raises with template file and line in the traceback
        finally:
            if budget is not None:
                budget.close()
        return out

    def _script(self, kind: str, variant: str, main: str, ctx: dict, raw: str, spec: Channel) -> OutboundMessage:
        """A message a recruiter reads out on a call: one line of script, and its call-sheet row."""
        script = _one_line(raw)
        words = len(script.split())
        if spec.max_words is not None and words > spec.max_words:
            raise RenderError(
                f"the {spec.name} script has {words} words, more than the {spec.max_words} that fit in 30 seconds",
                template=main,
            )
        region = ctx.get("country") or self.defaults.get("country")
        phone = _e164(ctx["phone"], region) if ctx.get("phone") else None
        if phone is None:
            raise RenderError(
                f"a {spec.name} needs the candidate's phone number, and {ctx.get('phone')!r} is not one",
                template=main,
                variable="phone",
            )
        zone = get_zone(ctx["timezone"])
        due = ctx.get("scheduled_for")
        if due is not None and due > ctx["rendered_at"]:
            # Rendered ahead of its window: the planner chose that time within the candidate's
            # calling hours and the recruiter's own day (or at the timing experiment's hour),
            # which call_time knows nothing of.
            call_at = due.astimezone(zone)
        else:
            # The candidate's holidays as a send window keeps them: a row with only
            # America/New_York is not called on Thanksgiving.
            days_off = calendar.holiday_country(ctx.get("country"), ctx["timezone"], self.defaults.get("country"))
            call_at = calendar.call_time(ctx["rendered_at"], zone, days_off)
        row = {
            "name": _one_line(ctx.get("full_name") or ""),
            "phone": phone,
            "local_time_to_call": call_at.strftime("%Y-%m-%d %H:%M %Z"),
            "script": script,
        }
        return OutboundMessage(
            kind=kind,
            channel=spec.name,
            variant=variant,
            template=main,
            subject=None,
            text=None,
            html=None,
            script=script,
            attachments=(),
            headers={},
            call_sheet_row=row,
        )

    def _invitation(self, kind: str, ctx: dict, event_text: str) -> Attachment:
        title, _, description = event_text.strip().partition("\n")
        key = (
            ctx.get("message_key")
            or hashlib.sha256(
                f"{ctx.get('candidate_id')}\x1f{kind}\x1f{ctx.get('step')}".encode("utf-8")
            ).hexdigest()[:32]
        )
        return ics.invitation(
            uid=f"{key}@candidate-followup",
            stamp=ctx["now"],
            start=ctx["meeting_start"],
            minutes=int(self.defaults.get("meeting_minutes") or ics.DEFAULT_MEETING_MINUTES),
            summary=_one_line(title),
            description=description.strip(),
            location=_one_line(ctx["meeting_place"]),
            attendee_email=ctx["email"],
            attendee_name=_one_line(ctx.get("full_name") or "") or None,
            organizer_email=ctx.get("recruiter_email"),
            organizer_name=_one_line(ctx["recruiter_name"]) if ctx.get("recruiter_name") else None,
        )
