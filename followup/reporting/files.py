"""write_report: the report document as the files users read, each written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from followup.csvfiles import write_csv, write_whole

from .page import render_html
from .tables import (
    BREAKDOWNS,
    breakdown_frame,
    comparisons_frame,
    funnel_frame,
    recommendations_frame,
    time_to_response_frame,
)


@dataclass(frozen=True)
class ReportFiles:
    """Where write_report put the report: the page, the document, and one CSV per table."""

    html: Path
    json: Path
    csv: tuple[Path, ...]


def write_report(document: dict, out_dir: Path) -> ReportFiles:
    """Write report.html, report.json and the CSV tables of `document` into `out_dir`.

    Each file is replaced whole (written beside its target, then renamed), so a reader opening
    the folder while a new report is written sees the old file or the new one, never half of
    one. The page is written last, once the files it points to are in place.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = {breakdown.key: breakdown_frame(breakdown.key, document[breakdown.key]) for breakdown in BREAKDOWNS}
    frames["funnel"] = funnel_frame(document["funnel"])
    frames["time_to_response"] = time_to_response_frame(document["time_to_response"])
    frames["comparisons"] = comparisons_frame(document["comparisons"])
    frames["recommendations"] = recommendations_frame(document["recommendations"])
    csv_paths = tuple(write_csv(frame, out_dir / f"{name}.csv") for name, frame in frames.items())
    # allow_nan=False: a NaN would make report.json unreadable to strict JSON parsers; the
    # contract says null, so a NaN is the analytics' bug and should fail here, loudly.
    text = json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    json_path = _write_text(out_dir / "report.json", text)
    html_path = _write_text(out_dir / "report.html", render_html(document))
    return ReportFiles(html=html_path, json=json_path, csv=csv_paths)


def _write_text(path: Path, text: str) -> Path:
    return write_whole(path, lambda handle: handle.write(text))
