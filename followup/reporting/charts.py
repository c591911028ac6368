"""The report's charts, drawn with matplotlib as SVG to sit inline in report.html.

Inline SVG keeps the page one file that opens with no network and stays sharp when zoomed.
Text is drawn as paths (svg.fonttype "path"), so the charts look the same whatever fonts the
reader has, and with a fixed svg.hashsalt and no date the same document gives the same bytes.

Only the object-oriented API is used (a Figure of its own, never pyplot): no global figure
registry, no GUI backend is ever chosen, and figures are freed when they go out of scope. That
is what the Agg backend would give pyplot, without changing the backend of a process (a
notebook, a caller's own plots) that happens to call write_report.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import escape

# Rates below are fractions; bars are this colour unless their cell is too small to rank.
_RANKED = "#2f6690"
_SMALL_FACE, _SMALL_EDGE = "#d9d9d9", "#6b6b6b"
_LABEL_CHARS = 18
_SVG_META = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class Chart:
    """An inline SVG with an id of its own on the page and a text alternative."""

    chart_id: str
    title: str
    description: str
    svg: str


def _plain(text: str) -> str:
    """`text` as matplotlib should print it: a pair of $ would start mathtext (and a stray one fail)."""
    text = text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"
    return text.replace("$", r"\$")


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def _svg(figure, chart_id: str, title: str, description: str) -> Chart:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "followup-report", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata=_SVG_META)
    return Chart(chart_id, title, description, _inline(buffer.getvalue(), chart_id, title, description))


def _inline(svg: str, prefix: str, title: str, description: str) -> str:
    """matplotlib's stand-alone SVG made fit to sit inside an HTML page beside other charts.

    The XML prolog and DOCTYPE go (the DOCTYPE names a DTD URL), so do the namespace
    declarations (HTML's parser puts an inline <svg> in the SVG namespace by itself) and the
    comments (they repeat the labels). Every id gets the chart's prefix, because two charts
    would otherwise both define, say, the glyph "DejaVuSans-65" on one page. A <title> and
    <desc> give screen readers the chart's name and its numbers.
    """
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    svg = svg.replace("xlink:href=", "href=")
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    head_end = svg.index(">") + 1
    label = (
        f' role="img" aria-labelledby="{prefix}-title {prefix}-desc">'
        f'<title id="{prefix}-title">{escape(title)}</title><desc id="{prefix}-desc">{escape(description)}</desc>'
    )
    return svg[: head_end - 1] + label + svg[head_end:]


def rate_chart(chart_id: str, title: str, rows: list[tuple[str, dict]], min_n: int) -> Chart | None:
    """Response rate per cell with its 95% interval; small cells grey, hatched and marked "n < min_n".

    None when no cell has anyone in it: there is nothing to draw, and the page says so instead.
    A cell with no one gets its place on the axis but no bar, so a week still reads Mon to Sun.
    """
    if not any(cell["n"] for _, cell in rows):
        return None
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    figure = Figure(figsize=(max(4.5, 1.5 + 0.62 * len(rows)), 3.4), layout="tight")
    axes = figure.add_subplot()
    small_label = f"n < {min_n}"
    top = 0.0
    for x, (_, cell) in enumerate(rows):
        rate = cell["rate"]
        if rate is None:
            axes.text(x, 0.005, "no one", ha="center", va="bottom", fontsize=8, color=_SMALL_EDGE)
            continue
        small = cell["flagged"]
        axes.bar(
            x, rate, width=0.66,
            color=_SMALL_FACE if small else _RANKED, edgecolor=_SMALL_EDGE if small else _RANKED,
            hatch="///" if small else None, linewidth=0.8,
        )  # fmt: skip
        high = rate
        if cell["ci_low"] is not None and cell["ci_high"] is not None:
            below, above = max(rate - cell["ci_low"], 0.0), max(cell["ci_high"] - rate, 0.0)
            axes.errorbar(x, rate, yerr=[[below], [above]], fmt="none", ecolor="#222222", capsize=4, linewidth=1)
            high = max(rate, cell["ci_high"])
        top = max(top, high)
        note = f"{_percent(rate)}\n{small_label}" if small else _percent(rate)
        axes.text(x, high + 0.01, note, ha="center", va="bottom", fontsize=8)
    axes.set_xticks(range(len(rows)), [f"{_plain(name)}\nn={cell['n']}" for name, cell in rows], fontsize=8)
    axes.set_xlim(-0.6, len(rows) - 0.4)
    # Headroom for the labels over the tallest interval; past 100% the axis has no ticks and no spine.
    ceiling = top * 1.25 + 0.06 if top < 0.75 else top + 0.2
    axis_top = min(ceiling, 1.0)
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(0, axis_top)
    axes.set_yticks([tick for tick in ticks if 0 <= tick <= axis_top + 1e-9])
    axes.set_ylim(0, ceiling)
    axes.spines["left"].set_bounds(0, axis_top)
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    axes.set_ylabel("responded (95% interval)", fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    drawn = [cell for _, cell in rows if cell["n"]]
    if any(cell["flagged"] for cell in drawn):
        handles = [
            Patch(facecolor=_SMALL_FACE, edgecolor=_SMALL_EDGE, hatch="///", label=f"{small_label}: shown, not ranked")
        ]
        if not all(cell["flagged"] for cell in drawn):
            handles.insert(0, Patch(color=_RANKED, label=f"n ≥ {min_n}: ranked"))
        # Above the plot, where no bar or label can be under it.
        axes.legend(handles=handles, fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, frameon=False)
    return _svg(figure, chart_id, title, _rates_text(rows, small_label))


def _rates_text(rows: list[tuple[str, dict]], small_label: str) -> str:
    parts = []
    for name, cell in rows:
        if cell["rate"] is None:
            parts.append(f"{name}: no one contacted")
            continue
        interval = (
            f", 95% interval {_percent(cell['ci_low'])} to {_percent(cell['ci_high'])}"
            if cell["ci_low"] is not None and cell["ci_high"] is not None
            else ""
        )
        small = f", {small_label}, not ranked" if cell["flagged"] else ""
        parts.append(f"{name}: {_percent(cell['rate'])} of {cell['n']} responded{interval}{small}")
    return "; ".join(parts) + "."


def funnel_chart(chart_id: str, title: str, rows: list[tuple[str, int, float | None]]) -> Chart | None:
    """How many candidates reached each stage, as bars from the top; None when no one was contacted."""
    contacted = dict((stage, count) for stage, count, _ in rows).get("contacted") or 0
    if not contacted:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7.0, 0.42 * len(rows) + 0.9), layout="tight")
    axes = figure.add_subplot()
    positions = range(len(rows))
    axes.barh(positions, [count for _, count, _ in rows], color=_RANKED, height=0.62)
    widest = max(count for _, count, _ in rows)
    for y, (_, count, share) in zip(positions, rows):
        axes.text(count + widest * 0.01, y, f"{count:,} ({_percent(share)})", va="center", fontsize=8)
    axes.set_yticks(list(positions), [_plain(stage) for stage, _, _ in rows], fontsize=9)
    axes.invert_yaxis()
    axes.set_xlim(0, widest * 1.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # a round of three has no 2.5 candidates
    axes.set_xlabel("candidates", fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    description = "; ".join(f"{stage}: {count} ({_percent(share)} of contacted)" for stage, count, share in rows) + "."
    return _svg(figure, chart_id, title, description)
