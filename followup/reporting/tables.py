"""The report document's parts as tables: the rows the CSV files and the HTML page both show.

The document is the analytics' contract (see followup/reporting/__init__.py); this module only
reshapes it. Columns keep their types, so a CSV holds numbers where the document has numbers
(an empty cell where it has null) and text only where it has text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Breakdown:
    """One table of rate cells in the document: its key, what its cells are, how it is shown."""

    key: str
    cell_name: str
    title: str
    charted: bool
    timing: bool = False


BREAKDOWNS = (
    Breakdown("by_channel", "channel", "Response rate by channel", charted=True),
    Breakdown("by_delay", "business days after the decision", "Response rate by delay", charted=True, timing=True),
    Breakdown("by_hour", "local send hour", "Response rate by local send hour", charted=True, timing=True),
    Breakdown("by_weekday", "weekday", "Response rate by weekday", charted=True, timing=True),
    Breakdown("by_step", "step (0 is the first message)", "Response rate by step", charted=True),
    Breakdown("by_variant", "template variant", "Response rate by template variant", charted=False),
    Breakdown("by_kind", "message kind", "Response rate by message kind", charted=False),
)

FUNNEL_STAGES = ("contacted", "delivered", "opened", "clicked", "responded", "accepted")

# The analytics may hand cells over in any order (a groupby sorts "3+" before "same day"):
# these tables read in their natural order. Names not listed keep the document's order, last.
_NATURAL_ORDER = {
    "by_delay": ("same day", "1", "2", "3+", "unknown"),
    "by_weekday": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_NUMBERED = {"by_hour", "by_step"}

BREAKDOWN_COLUMNS = ("cell", "n", "responses", "rate", "ci_low", "ci_high", "flagged")
COMPARISON_COLUMNS = ("dimension", "a", "b", "test", "p_value", "difference", "flagged", "sentence")
RECOMMENDATION_COLUMNS = (
    "kind", "what", "choice", "runner_up", "n", "responses", "rate", "ci_low", "ci_high", "flagged",
    "more_needed", "sentence",
)  # fmt: skip


def ordered_cells(key: str, cells: dict[str, dict]) -> list[tuple[str, dict]]:
    """The cells of breakdown `key` as (name, cell) pairs in the order a reader expects."""
    if key in _NUMBERED:
        return sorted(cells.items(), key=lambda item: (not item[0].isdigit(), int(item[0]) if item[0].isdigit() else 0))
    known = _NATURAL_ORDER.get(key, ())
    return sorted(cells.items(), key=lambda item: known.index(item[0]) if item[0] in known else len(known))


def _text(values: list) -> pd.Series:
    return pd.Series(values, dtype=object)


def _counts(values: list) -> pd.Series:
    # Nullable integers: 120 stays "120" in a CSV next to a missing value, not "120.0".
    return pd.Series(values, dtype="Int64")


def _fractions(values: list) -> pd.Series:
    return pd.Series([float("nan") if value is None else value for value in values], dtype="float64")


def _flags(values: list) -> pd.Series:
    return pd.Series(values, dtype="boolean")


def breakdown_frame(key: str, cells: dict[str, dict]) -> pd.DataFrame:
    rows = ordered_cells(key, cells)
    return pd.DataFrame(
        {
            "cell": _text([name for name, _ in rows]),
            "n": _counts([cell["n"] for _, cell in rows]),
            "responses": _counts([cell["responses"] for _, cell in rows]),
            "rate": _fractions([cell["rate"] for _, cell in rows]),
            "ci_low": _fractions([cell["ci_low"] for _, cell in rows]),
            "ci_high": _fractions([cell["ci_high"] for _, cell in rows]),
            "flagged": _flags([cell["flagged"] for _, cell in rows]),
        },
        columns=list(BREAKDOWN_COLUMNS),
    )


def funnel_rows(funnel: dict[str, int]) -> list[tuple[str, int, float | None]]:
    """(stage, count, share of the contacted) in funnel order; the share is None when no one was contacted."""
    stages = [stage for stage in FUNNEL_STAGES if stage in funnel] + [s for s in funnel if s not in FUNNEL_STAGES]
    contacted = funnel.get("contacted") or 0
    return [(stage, funnel[stage], funnel[stage] / contacted if contacted else None) for stage in stages]


def funnel_frame(funnel: dict[str, int]) -> pd.DataFrame:
    rows = funnel_rows(funnel)
    return pd.DataFrame(
        {
            "stage": _text([stage for stage, _, _ in rows]),
            "count": _counts([count for _, count, _ in rows]),
            "share_of_contacted": _fractions([None if share is None else round(share, 4) for _, _, share in rows]),
        }
    )


def time_to_response_frame(times: dict[str, dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": _text(list(times)),
            "n": _counts([row["n"] for row in times.values()]),
            "median_hours": _fractions([row["median_hours"] for row in times.values()]),
            "p90_hours": _fractions([row["p90_hours"] for row in times.values()]),
        }
    )


def comparisons_frame(comparisons: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dimension": _text([row["dimension"] for row in comparisons]),
            "a": _text([row["a"] for row in comparisons]),
            "b": _text([row["b"] for row in comparisons]),
            "test": _text([row["test"] for row in comparisons]),
            "p_value": _fractions([row["p_value"] for row in comparisons]),
            "difference": _fractions([row["difference"] for row in comparisons]),
            "flagged": _flags([row["flagged"] for row in comparisons]),
            "sentence": _text([row["sentence"] for row in comparisons]),
        },
        columns=list(COMPARISON_COLUMNS),
    )


def recommendations_frame(recommendations: list[dict]) -> pd.DataFrame:
    """One row per recommendation, its cell spread over columns (empty when there is no choice yet)."""
    cells = [row["cell"] or {} for row in recommendations]
    return pd.DataFrame(
        {
            "kind": _text([row["kind"] for row in recommendations]),
            "what": _text([row["what"] for row in recommendations]),
            "choice": _text([row["choice"] for row in recommendations]),
            "runner_up": _text([row["runner_up"] for row in recommendations]),
            "n": _counts([cell.get("n") for cell in cells]),
            "responses": _counts([cell.get("responses") for cell in cells]),
            "rate": _fractions([cell.get("rate") for cell in cells]),
            "ci_low": _fractions([cell.get("ci_low") for cell in cells]),
            "ci_high": _fractions([cell.get("ci_high") for cell in cells]),
            "flagged": _flags([cell.get("flagged") for cell in cells]),
            "more_needed": _counts([row["more_needed"] for row in recommendations]),
            "sentence": _text([row["sentence"] for row in recommendations]),
        },
        columns=list(RECOMMENDATION_COLUMNS),
    )
