"""report.html: the document as one self-contained page (Jinja2, autoescaped; charts inline).

Every string the page shows from the document (channel and variant names, sentences,
definitions) goes through autoescaping; only the SVG this package drew is marked safe.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .charts import funnel_chart, rate_chart
from .tables import BREAKDOWNS, funnel_rows, ordered_cells

TIMING_SOURCES = {
    "experiment": (
        "the timing experiment: candidates whose delay and send hour were drawn at random, "
        "so a difference between timings is not down to who was sent when."
    ),
    "all contacted": (
        "every contacted candidate. Their send times were not drawn at random, so a difference "
        "between timings may have another cause (who tends to be contacted when)."
    ),
}


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{100 * fraction:.1f}%"


def interval(cell: dict) -> str:
    if cell["ci_low"] is None or cell["ci_high"] is None:
        return "—"
    return f"{100 * cell['ci_low']:.1f}–{100 * cell['ci_high']:.1f}%"


def points(difference: float | None) -> str:
    """A difference of two rates in percentage points, signed."""
    return "—" if difference is None else f"{100 * difference:+.1f} pts"


def p_value(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def heading(key: str) -> str:
    return key.replace("_", " ").capitalize()


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Compiled once per process: a CLI run and a flow both call write_report at most a few times.
    environment = Environment(
        loader=PackageLoader("followup.reporting", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        percent=percent, interval=interval, points=points, p_value=p_value, hours=hours, heading=heading
    )
    return environment


def render_html(document: dict) -> str:
    min_n = document["min_n"]
    nobody = not document["funnel"].get("contacted")
    sections = []
    for breakdown in BREAKDOWNS:
        rows = ordered_cells(breakdown.key, document[breakdown.key])
        chart = None
        if breakdown.charted and not nobody:
            chart = rate_chart(breakdown.key.replace("_", "-"), breakdown.title, rows, min_n)
        sections.append({"breakdown": breakdown, "rows": rows, "chart": _safe(chart)})
    funnel = funnel_rows(document["funnel"])
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            document=document,
            nobody=nobody,
            min_n=min_n,
            sections=sections,
            funnel=funnel,
            funnel_chart=None if nobody else _safe(funnel_chart("funnel", "Funnel: how far candidates got", funnel)),
            timing_source=TIMING_SOURCES.get(document["timing_source"], document["timing_source"]),
        )
    )


def _safe(chart):
    """The chart with its SVG marked as markup this package made, or None."""
    if chart is None:
        return None
    return {"id": chart.chart_id, "title": chart.title, "description": chart.description, "svg": Markup(chart.svg)}
