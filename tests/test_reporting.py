"""The response report's files (followup.reporting): what a recruiter opens must be right, safe and stable.

The documents under tests/data/report/ stand in for what followup.analytics hands over:
example.json a realistic quarter, empty.json a window in which no one was contacted,
single_channel.json a first small round on email only.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from markupsafe import escape

from followup.reporting import ReportFiles, write_report

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "report"
BREAKDOWNS = ("by_channel", "by_delay", "by_hour", "by_weekday", "by_step", "by_variant", "by_kind")
OTHER_TABLES = ("funnel", "time_to_response", "comparisons", "recommendations")
Z95 = 1.959963984540054


def load(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def wilson(n: int, responses: int) -> tuple[float, float]:
    p = responses / n
    denominator = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return centre - half, centre + half


def every_cell(document: dict):
    for key in BREAKDOWNS:
        yield from document[key].values()
    yield from (rec["cell"] for rec in document["recommendations"] if rec["cell"])


@pytest.mark.parametrize("name", ["example", "empty", "single_channel"])
def test_the_fixtures_obey_the_definitions_they_carry(name):
    """A fixture that broke the contract would test the report against numbers analytics never makes."""
    document = load(name)
    for cell in every_cell(document):
        assert cell["flagged"] == (cell["n"] < document["min_n"])
        if cell["n"] == 0:
            assert (cell["responses"], cell["rate"], cell["ci_low"], cell["ci_high"]) == (0, None, None, None)
            continue
        assert cell["rate"] == pytest.approx(cell["responses"] / cell["n"], abs=5e-5)
        assert (cell["ci_low"], cell["ci_high"]) == pytest.approx(wilson(cell["n"], cell["responses"]), abs=5e-5)
    funnel = document["funnel"]
    assert sum(cell["n"] for cell in document["by_channel"].values()) == funnel["contacted"]
    assert sum(cell["responses"] for cell in document["by_channel"].values()) == funnel["responded"]
    assert sum(cell["n"] for cell in document["by_kind"].values()) == funnel["contacted"]
    assert funnel["contacted"] >= funnel["delivered"] >= funnel["opened"] >= funnel["clicked"]
    assert funnel["contacted"] >= funnel["responded"] >= funnel["accepted"]


def test_it_writes_the_page_the_document_and_one_csv_per_table(tmp_path):
    files = write_report(load("example"), tmp_path / "report")
    assert isinstance(files, ReportFiles)
    assert files.html == tmp_path / "report" / "report.html"
    assert files.json == tmp_path / "report" / "report.json"
    assert sorted(path.name for path in files.csv) == sorted(f"{name}.csv" for name in BREAKDOWNS + OTHER_TABLES)
    assert sorted(path.name for path in (tmp_path / "report").iterdir()) == sorted(
        [files.html.name, files.json.name, *(path.name for path in files.csv)]
    )  # nothing half-written (.partial) is left behind


def test_report_json_is_the_document_as_given_in_utf_8(tmp_path):
    document = load("example")
    document["by_variant"]["offer/été"] = document["by_variant"].pop("offer/b")
    files = write_report(document, tmp_path)
    text = files.json.read_bytes().decode("utf-8")
    assert "offer/été" in text  # readable, not \u escapes
    assert json.loads(text) == document


def test_a_nan_in_the_document_is_refused_rather_than_written_as_invalid_json(tmp_path):
    document = load("example")
    document["by_channel"]["email"]["rate"] = float("nan")
    with pytest.raises(ValueError):
        write_report(document, tmp_path)


def test_breakdown_csvs_hold_numbers_as_numbers_in_a_readers_order(tmp_path):
    files = write_report(load("example"), tmp_path)
    channel = rows(tmp_path / "by_channel.csv")
    assert list(channel[0]) == ["cell", "n", "responses", "rate", "ci_low", "ci_high", "flagged"]
    assert channel[0] == {"cell": "email", "n": "920", "responses": "268", "rate": "0.2913", "ci_low": "0.2629",
                          "ci_high": "0.3215", "flagged": "False"}  # fmt: skip
    # A cell with no one has no rate: an empty field, not "nan", "None" or 0.
    unknown = [row for row in rows(tmp_path / "by_delay.csv") if row["cell"] == "unknown"]
    assert unknown == [{"cell": "unknown", "n": "0", "responses": "0", "rate": "", "ci_low": "", "ci_high": "",
                        "flagged": "True"}]  # fmt: skip
    assert [row["cell"] for row in rows(tmp_path / "by_hour.csv")] == [f"{hour:02d}" for hour in range(8, 21)]
    assert [row["cell"] for row in rows(tmp_path / "by_delay.csv")] == ["same day", "1", "2", "3+", "unknown"]
    assert len(files.csv) == 11


def test_a_shuffled_document_still_reads_in_natural_order(tmp_path):
    document = load("example")
    for key in ("by_delay", "by_weekday", "by_hour", "by_step"):
        document[key] = dict(sorted(document[key].items(), reverse=True))
    write_report(document, tmp_path)
    weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert [row["cell"] for row in rows(tmp_path / "by_weekday.csv")] == weekdays
    assert [row["cell"] for row in rows(tmp_path / "by_delay.csv")] == ["same day", "1", "2", "3+", "unknown"]
    assert [row["cell"] for row in rows(tmp_path / "by_step.csv")] == ["0", "1", "2"]
    assert [row["cell"] for row in rows(tmp_path / "by_hour.csv")][:2] == ["08", "09"]


def test_the_other_tables_keep_counts_whole_and_empty_where_the_document_has_null(tmp_path):
    document = load("example")
    document["comparisons"][0]["difference"] = -0.0379  # a negative number is a number, not a formula
    write_report(document, tmp_path)
    funnel = rows(tmp_path / "funnel.csv")
    assert [(row["stage"], row["count"]) for row in funnel][:2] == [("contacted", "1182"), ("delivered", "1138")]
    assert funnel[0]["share_of_contacted"] == "1.0"
    comparison = rows(tmp_path / "comparisons.csv")[0]
    assert (comparison["difference"], comparison["p_value"], comparison["test"]) == ("-0.0379", "0.2951", "fisher")
    recommendations = rows(tmp_path / "recommendations.csv")
    assert recommendations[0]["choice"] == "" and recommendations[0]["more_needed"] == "260"
    assert recommendations[0]["rate"] == "" and recommendations[0]["n"] == ""
    assert (recommendations[1]["choice"], recommendations[1]["n"], recommendations[1]["more_needed"]) == ("1", "58", "")
    assert rows(tmp_path / "time_to_response.csv")[0] == {"channel": "email", "n": "268", "median_hours": "20.5",
                                                           "p90_hours": "71.0"}  # fmt: skip


def test_a_name_that_looks_like_a_formula_is_neutralised_in_every_csv_but_shown_as_is_on_the_page(tmp_path):
    payload = "=cmd|' /C calc'!A0"
    document = load("example")
    document["by_variant"][payload] = document["by_variant"].pop("offer/b")
    document["comparisons"][2]["b"] = payload
    document["comparisons"][2]["sentence"] = "+" + document["comparisons"][2]["sentence"]
    document["recommendations"][2]["choice"] = "@SUM(A1)"
    files = write_report(document, tmp_path)
    variant_cells = [row["cell"] for row in rows(tmp_path / "by_variant.csv")]
    assert "'" + payload in variant_cells and payload not in variant_cells
    comparison = rows(tmp_path / "comparisons.csv")[2]
    assert comparison["b"] == "'" + payload and comparison["sentence"].startswith("'+")
    assert rows(tmp_path / "recommendations.csv")[2]["choice"] == "'@SUM(A1)"
    page = files.html.read_text(encoding="utf-8")
    assert escape(payload) in page and "'" + escape(payload) not in page  # a web page runs no formulas


def test_markup_and_dollar_signs_in_names_are_text_on_the_page_and_in_the_charts(tmp_path):
    document = load("example")
    document["by_channel"]["<script>alert(1)</script>"] = document["by_channel"].pop("voicemail")
    document["by_step"]["$x$"] = document["by_step"].pop("2")  # mathtext would read a pair of $ as a formula
    document["definitions"]["rate"] = "<b>bold</b> & more"
    page = write_report(document, tmp_path).html.read_text(encoding="utf-8")
    assert "<script" not in page and "<b>bold" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page
    assert page.count("<svg") == 6


def test_the_page_references_no_url_but_those_the_document_itself_wrote(tmp_path):
    document = load("example")
    document["definitions"]["response"] += " See https://intranet.example.com/handbook#responses."
    page = write_report(document, tmp_path).html.read_text(encoding="utf-8")
    for text in _strings(document):
        page = page.replace(escape(text), "")
    assert "http://" not in page and "https://" not in page
    # Nothing for a browser to fetch: no script, stylesheet link, image, frame or font.
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b|\bsrc=|@import|@font-face|url\((?!#)", page)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def test_the_page_names_its_parts_and_its_charts_for_every_reader(tmp_path):
    page = write_report(load("example"), tmp_path).html.read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "<title>Response report" in page
    charts = re.findall(r"<svg\b[^>]*>", page)
    assert len(charts) == 6
    assert all('role="img"' in tag and "aria-labelledby=" in tag for tag in charts)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # six charts on one page: no glyph or clip id defined twice
    for section in ("Recommendations", "Funnel", "Response rate by channel", "Response rate by delay",
                    "Response rate by local send hour", "Response rate by weekday", "Response rate by step",
                    "Response rate by template variant", "Response rate by message kind", "Time to response",
                    "Comparisons", "Definitions", "About this report"):  # fmt: skip
        assert f">{section}</h2>" in page
    assert "in_person: 68.2% of 22 responded, 95% interval 47.3% to 83.6%, n &lt; 30, not ranked" in page
    assert "About 260 more contacted candidates would settle it." in page
    assert "the timing experiment" in page
    assert all(escape(sentence["sentence"]) in page for sentence in load("example")["comparisons"])


def test_two_runs_give_the_same_bytes(tmp_path):
    document = load("example")
    first, second = write_report(document, tmp_path / "one"), write_report(copy.deepcopy(document), tmp_path / "two")
    for a, b in zip((first.html, first.json, *first.csv), (second.html, second.json, *second.csv)):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_a_window_in_which_no_one_was_contacted_says_so_and_draws_nothing(tmp_path):
    files = write_report(load("empty"), tmp_path)
    page = files.html.read_text(encoding="utf-8")
    assert "No one was contacted in this window." in page
    assert "<svg" not in page and not re.search(r"\bnan\b", page, re.IGNORECASE)
    assert "the time of the report" in page  # until: null
    assert rows(tmp_path / "by_channel.csv")[0] == {"cell": "email", "n": "0", "responses": "0", "rate": "",
                                                    "ci_low": "", "ci_high": "", "flagged": "True"}  # fmt: skip
    assert rows(tmp_path / "by_variant.csv") == [] and rows(tmp_path / "comparisons.csv") == []
    assert [row["share_of_contacted"] for row in rows(tmp_path / "funnel.csv")] == [""] * 6
    assert json.loads(files.json.read_text(encoding="utf-8")) == load("empty")


def test_a_document_with_empty_tables_everywhere_still_renders(tmp_path):
    document = load("empty")
    for key in BREAKDOWNS + ("time_to_response",):
        document[key] = {}
    document["recommendations"] = []
    page = write_report(document, tmp_path).html.read_text(encoding="utf-8")
    assert "No one was contacted in this window." in page and "No recommendations yet." in page
    assert (tmp_path / "by_channel.csv").read_text(encoding="utf-8") == "cell,n,responses,rate,ci_low,ci_high,flagged\n"


def test_a_first_small_round_on_one_channel_is_drawn_grey_and_marked_small(tmp_path):
    page = write_report(load("single_channel"), tmp_path).html.read_text(encoding="utf-8")
    assert "No one was contacted" not in page
    assert page.count("<svg") == 6
    assert "email: 33.3% of 12 responded, 95% interval 13.8% to 60.9%, n &lt; 30, not ranked" in page
    assert "the first contact on record" in page and "every contacted candidate" in page
    assert "About 48 more contacted candidates would settle it." in page


def test_cells_where_no_one_or_everyone_answered_are_drawn_at_the_ends_of_the_axis(tmp_path):
    document = load("single_channel")
    document["by_channel"]["voicemail"] = {"n": 40, "responses": 0, "rate": 0.0, "ci_low": 0.0, "ci_high": 0.0876,
                                           "flagged": False}  # fmt: skip
    document["by_channel"]["in_person"] = {"n": 1, "responses": 1, "rate": 1.0, "ci_low": 0.2065, "ci_high": 1.0,
                                           "flagged": True}  # fmt: skip
    page = write_report(document, tmp_path).html.read_text(encoding="utf-8")
    assert "voicemail: 0.0% of 40 responded, 95% interval 0.0% to 8.8%" in page
    assert "in_person: 100.0% of 1 responded, 95% interval 20.6% to 100.0%, n &lt; 30, not ranked" in page


def test_importing_the_package_leaves_matplotlib_unloaded():
    """Every command imports what it needs at start-up; matplotlib is only for the one that draws."""
    code = "import sys, followup.reporting; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def test_the_template_ships_as_package_data():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "templates/*.j2" in package_data["followup.reporting"]
    assert (ROOT / "followup" / "reporting" / "templates" / "report.html.j2").is_file()
