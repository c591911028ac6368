"""Rates with honest uncertainty: cells with Wilson 95% intervals, comparisons with a test that
fits the counts, and recommendations made only when the evidence holds.

The statistics come from statsmodels and scipy, not from formulas written here: the Wilson
interval (statsmodels' proportion_confint), Fisher's exact test (scipy) for small counts and the
two-proportion z-test (statsmodels) otherwise, and the sample size a difference needs
(statsmodels' power for two proportions, Cohen's h).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

MIN_N = 30  # cells with fewer contacted candidates are shown and flagged, never ranked
ALPHA = 0.05
POWER = 0.8  # for "how many more would settle it"
_EXPECTED_FOR_Z = 5  # every expected count at least this: the z-test's normal approximation holds


def cells(frame: pd.DataFrame, by: str, order=None, min_n: int = MIN_N) -> dict[str, dict]:
    """{value of `by`: cell} over `frame` (one row per contact, bool column `responded`)."""
    from statsmodels.stats.proportion import proportion_confint

    grouped = frame.groupby(by, sort=True, observed=True)["responded"].agg(["size", "sum"])
    keys = list(order) if order is not None else [str(k) for k in grouped.index]
    grouped.index = grouped.index.map(str)
    grouped = grouped.reindex(keys, fill_value=0)
    n, k = grouped["size"].to_numpy(dtype="int64"), grouped["sum"].to_numpy(dtype="int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = proportion_confint(k, np.maximum(n, 1), alpha=ALPHA, method="wilson")
    # Exact at the edges: floating point leaves 1e-17 where no response makes the bound 0.
    low, high = np.where(k == 0, 0.0, np.clip(low, 0, 1)), np.where(k == n, 1.0, np.clip(high, 0, 1))
    return {key: cell(int(n[i]), int(k[i]), float(low[i]), float(high[i]), min_n) for i, key in enumerate(keys)}


def cell(n: int, responses: int, low: float, high: float, min_n: int = MIN_N) -> dict:
    if n == 0:
        return {"n": 0, "responses": 0, "rate": None, "ci_low": None, "ci_high": None, "flagged": True}
    return {"n": n, "responses": responses, "rate": responses / n, "ci_low": float(low), "ci_high": float(high),
            "flagged": n < min_n}  # fmt: skip


def difference_test(a: Mapping, b: Mapping) -> tuple[str, float]:
    """(test name, two-sided p) for two cells' counts: Fisher's exact test when an expected count
    is under 5, the two-proportion z-test otherwise."""
    table = np.array([[a["responses"], a["n"] - a["responses"]], [b["responses"], b["n"] - b["responses"]]])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / max(table.sum(), 1)
    if expected.min() < _EXPECTED_FOR_Z or table[:, 0].sum() in (0, table.sum()):
        from scipy.stats import fisher_exact

        return "fisher", float(fisher_exact(table).pvalue)
    from statsmodels.stats.proportion import proportions_ztest

    _, p = proportions_ztest(table[:, 0], table.sum(axis=1))
    return "z-test", float(p)


def _pct(rate: float | None) -> str:
    return "no data" if rate is None else f"{100 * rate:.1f}%"


def compare(dimension: str, name_a: str, a: Mapping, name_b: str, b: Mapping, min_n: int = MIN_N) -> dict:
    """One comparison with its test and one plain sentence on what the data does and does not show."""
    found = {"dimension": dimension, "a": name_a, "b": name_b, "test": None, "p_value": None, "difference": None,
             "flagged": a["n"] < min_n or b["n"] < min_n}  # fmt: skip
    said = f"{name_a} {_pct(a['rate'])} (n={a['n']}) against {name_b} {_pct(b['rate'])} (n={b['n']})"
    if not a["n"] or not b["n"]:
        return {**found, "sentence": f"{said}: nothing to compare yet."}
    test, p = difference_test(a, b)
    difference = a["rate"] - b["rate"]
    found.update(test=test, p_value=p, difference=difference)
    points = f"{abs(100 * difference):.1f} points"
    if found["flagged"]:
        sentence = (f"{said}: too few contacted candidates (under {min_n}) to rank them; the {points} between "
                    f"them may be chance (p = {p:.2g}, {test}).")  # fmt: skip
    elif p < ALPHA:
        higher = name_a if difference > 0 else name_b
        sentence = (f"{said}: {higher} is higher by {points}, more than chance would often give (p = {p:.2g}, "
                    f"{test}); this shows a difference among these candidates, not its cause.")  # fmt: skip
    else:
        sentence = (f"{said}: the {points} between them could well be chance (p = {p:.2g}, {test}); this does "
                    "not show that they are the same either.")  # fmt: skip
    return {**found, "sentence": sentence}


def more_needed(a: Mapping, b: Mapping) -> int | None:
    """About how many more contacted candidates, split evenly, would show the difference seen
    between two cells at 5% with 80% power; None when they do not differ at all so far."""
    if not a["n"] or not b["n"] or a["rate"] == b["rate"]:
        return None
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    effect = abs(proportion_effectsize(a["rate"], b["rate"]))
    if effect < 1e-9:
        return None
    per_cell = math.ceil(NormalIndPower().solve_power(effect_size=effect, alpha=ALPHA, power=POWER, ratio=1.0))
    return max(0, per_cell - a["n"]) + max(0, per_cell - b["n"])


def recommend(kind: str, what: str, candidates: Mapping[str, Mapping], min_n: int = MIN_N) -> dict:
    """The best cell of `candidates` for decision kind `kind`, or why none can be named yet.

    A choice is made only when its interval's lower bound clears the runner-up's upper bound, or
    when the test between them gives p < 0.05 once corrected for picking the best of several
    (Bonferroni over the cells compared), both cells holding at least `min_n` contacts."""
    found = {"kind": kind, "what": what, "choice": None, "cell": None, "runner_up": None, "more_needed": None}
    ranked = sorted(((name, c) for name, c in candidates.items() if c["n"] >= min_n and name != "unknown"),
                    key=lambda item: item[1]["rate"], reverse=True)  # fmt: skip
    label = f"{kind}s by {what}"
    if len(ranked) < 2:
        small = [c["n"] for name, c in candidates.items() if 0 < c["n"] < min_n and name != "unknown"]
        found["more_needed"] = sum(min_n - n for n in sorted(small, reverse=True)[: 2 - len(ranked)]) or None
        reason = ("only one has" if ranked else "none has") + f" at least {min_n} contacted candidates"
        found["sentence"] = f"Not enough evidence yet for {label}: {reason}."
        return found
    (best, a), (second, b) = ranked[0], ranked[1]
    _, p = difference_test(a, b)
    corrected = min(1.0, p * (len(ranked) - 1))
    found.update(runner_up=second)
    if a["ci_low"] > b["ci_high"] or corrected < ALPHA:
        found.update(choice=best, cell=dict(a))
        found["sentence"] = (f"For {kind}s, {what} {best}: {_pct(a['rate'])} responded (95% CI {_pct(a['ci_low'])}"
                             f" to {_pct(a['ci_high'])}, n={a['n']}), ahead of {second} at {_pct(b['rate'])} "
                             f"(p = {corrected:.2g} corrected for {len(ranked)} choices).")  # fmt: skip
        return found
    found["more_needed"] = more_needed(a, b)
    more = (f" About {found['more_needed']} more contacted candidates in these two cells would settle it."
            if found["more_needed"] else " The two do not differ at all so far.")  # fmt: skip
    found["sentence"] = (f"Not enough evidence yet for {label}: {best} ({_pct(a['rate'])}, n={a['n']}) and "
                         f"{second} ({_pct(b['rate'])}, n={b['n']}) could be in either order (p = {corrected:.2g})."
                         + more)  # fmt: skip
    return found
