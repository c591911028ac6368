"""Locale-aware filters for templates: money, dates, times, lists (babel).

Babel takes 10-40 microseconds per call, about as long as rendering a whole email, so every
formatter is memoised: within a batch the same salary bands, deadlines and locales repeat.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

DEFAULT_LOCALE = "en"


@lru_cache(maxsize=256)
def normalise_locale(value: str | None) -> str | None:
    """'de-de' -> 'de_DE'; None when babel does not know the locale."""
    if not value:
        return None
    try:
        return str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


@lru_cache(maxsize=None)
def get_zone(name: str) -> ZoneInfo:
    """ZoneInfo keeps only 8 zones strongly and re-reads the rest from disk once no datetime
    holds them; a batch spans dozens of zones, so keep every zone it has met."""
    return ZoneInfo(name)


@lru_cache(maxsize=1024)
def writing_locale(template_name: str, candidate_locale: str) -> str:
    """The locale to format numbers and dates in: the template's language with the
    candidate's region, so an English template for a reader in Spain says "3 December 2026"
    with Spain's conventions where English has them, never Spanish words in English text.

    Template files carry their language as a suffix ("email.txt.de.j2"); plain files are
    DEFAULT_LOCALE.
    """
    pieces = template_name.rsplit("/", 1)[-1].split(".")
    language = pieces[2].split("_", 1)[0] if len(pieces) == 4 else DEFAULT_LOCALE
    candidate = _locale(candidate_locale)
    if candidate.language == language:
        return candidate_locale
    if candidate.territory:
        regional = normalise_locale(f"{language}_{candidate.territory}")
        if regional:
            return regional
    return language


@lru_cache(maxsize=256)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


@lru_cache(maxsize=4096)
def _money(amount: float | int, currency: str | None, locale: str) -> str:
    loc = _locale(locale)
    if currency is None:
        return format_decimal(amount, locale=loc)
    pattern = loc.currency_formats["standard"]
    if float(amount).is_integer():
        # Salaries are whole numbers: "€60,000", not "€60,000.00".
        pattern = copy.copy(pattern)
        pattern.frac_prec = (0, 0)
    return pattern.apply(amount, loc, currency=currency.upper(), currency_digits=False)


@lru_cache(maxsize=4096)
def _date(value: date, fmt: str, locale: str, zone: str) -> str:
    """Cached with the zone: the day an aware datetime falls on is where the candidate lives."""
    local = _local(value, zone)
    if isinstance(local, datetime):
        local = local.date()
    return format_date(local, fmt, locale=_locale(locale))


@lru_cache(maxsize=4096)
def _time(value: datetime, fmt: str, locale: str) -> str:
    return format_time(value, fmt, tzinfo=value.tzinfo, locale=_locale(locale))


@lru_cache(maxsize=1024)
def _listing(items: tuple[str, ...], locale: str) -> str:
    return format_list(list(items), locale=_locale(locale))


def _local(value: date | datetime, zone: str) -> date | datetime:
    """An aware datetime is shown in the candidate's time zone, a plain date as it is."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(get_zone(zone))
    return value


@pass_context
def money(ctx: Context, amount: float | int, currency: str | None = None) -> str:
    return _money(amount, currency, ctx["number_locale"])


@pass_context
def date_filter(ctx: Context, value: date | datetime, fmt: str = "long") -> str:
    return _date(value, fmt, ctx["locale"], ctx["timezone"])


@pass_context
def time_filter(ctx: Context, value: datetime, fmt: str = "short") -> str:
    return _time(_local(value, ctx["timezone"]), fmt, ctx["locale"])


@pass_context
def zone(ctx: Context, value: datetime) -> str:
    """The zone abbreviation a reader recognises (EDT, CET) for an aware datetime."""
    return _local(value, ctx["timezone"]).tzname() or ctx["timezone"]


@pass_context
def listing(ctx: Context, items: Any) -> str:
    """['a', 'b', 'c'] -> 'a, b, and c' in the candidate's language."""
    return _listing(tuple(map(str, items)), ctx["locale"])


FILTERS = {
    "money": money,
    "date": date_filter,
    "time": time_filter,
    "zone": zone,
    "listing": listing,
}
