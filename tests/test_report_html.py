"""report.html as a reader sees it: opened from disk in Debian's Chromium, with nothing let out.

Playwright drives the system's /usr/bin/chromium (`apt-get install chromium`; .ci/run installs
it), never a browser of its own. Without it these tests fail: a report nobody has opened in a
browser is not checked. Each test saves a full-page screenshot and prints where; with
FOLLOWUP_TEST_ARTIFACTS set, a copy also goes to test-artifacts/ at the root of the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from followup.reporting import write_report

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "report"
CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: CI runs as root, where Chromium's sandbox refuses to start. The rest keeps the
# browser from reaching out by itself (updates, sync, QUIC probes) while the page is checked.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Read at import, during collection: the suite's no_user_settings fixture (conftest.py) takes
# every FOLLOWUP_* variable out of the environment before the first test runs.
SAVE_ARTIFACTS = bool(os.environ.get("FOLLOWUP_TEST_ARTIFACTS"))
HEADINGS = [
    "Recommendations", "Funnel", "Response rate by channel", "Response rate by delay",
    "Response rate by local send hour", "Response rate by weekday", "Response rate by step",
    "Response rate by template variant", "Response rate by message kind", "Time to response", "Comparisons",
    "Definitions", "About this report",
]  # fmt: skip
CHARTS = ["chart-funnel", "chart-by-channel", "chart-by-delay", "chart-by-hour", "chart-by-weekday", "chart-by-step"]


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y --no-install-recommends chromium)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Opened:
    """A page loaded from disk in a fresh browser context, with what it asked for and what went wrong."""

    def __init__(self, browser, page: Path):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        # Anything but the file itself and data: URLs would be the network: recorded, then refused.
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda socket: self.requests.append(socket.url))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(page.as_uri(), wait_until="load")

    def _only_local(self, route):
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    def screenshot(self, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        print(f"screenshot of {name}: {path}")
        if SAVE_ARTIFACTS:
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            copy = shutil.copyfile(path, ROOT / "test-artifacts" / path.name)
            print(f"copied to {copy}")
        return path

    def assert_quiet_and_local(self) -> None:
        assert self.errors == []
        assert self.requests and all(url.startswith(("file:", "data:")) for url in self.requests), self.requests
        # Inline CSS only, no images, no scripts: nothing the page could have fetched later either.
        assert self.page.evaluate(
            "() => [document.images.length, document.scripts.length,"
            " [...document.styleSheets].filter(sheet => sheet.href).length]"
        ) == [0, 0, 0]

    def headings(self) -> list[str]:
        return [text.strip() for text in self.page.locator("h2").all_inner_texts()]

    def chart_sizes(self) -> dict[str, tuple[float, float, float]]:
        """Each chart's box on the page and the width of what is drawn inside it, by its figure's id."""
        sizes = {}
        for figure_id in self.page.locator("figure.chart").evaluate_all("figures => figures.map(f => f.id)"):
            svg = self.page.locator(f"#{figure_id} svg")
            box = svg.bounding_box()
            drawn = svg.evaluate("svg => svg.getBBox().width")
            sizes[figure_id] = (box["width"], box["height"], drawn)
        return sizes


@pytest.fixture
def open_report(browser, tmp_path):
    opened = []

    def open_(name: str) -> Opened:
        """The report of fixture document `name`, written and opened."""
        document = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
        opened.append(Opened(browser, write_report(document, tmp_path / name).html))
        return opened[-1]

    yield open_
    for report in opened:
        report.context.close()


def test_the_report_renders_every_heading_and_chart_offline_without_an_error(open_report, tmp_path):
    report = open_report("example")
    report.screenshot(tmp_path, "report")
    assert report.page.title().startswith("Response report")
    assert report.page.locator("h1").inner_text() == "Response report"
    assert report.headings() == HEADINGS
    sizes = report.chart_sizes()
    assert list(sizes) == CHARTS
    assert all(width > 100 and height > 100 and drawn > 100 for width, height, drawn in sizes.values()), sizes
    # Each chart is an image to a screen reader, named by its <title>.
    titles = report.page.locator("figure.chart svg > title").evaluate_all("titles => titles.map(t => t.textContent)")
    assert titles[1] == "Response rate by channel" and len(titles) == len(CHARTS)
    assert report.page.get_by_role("img", name="Response rate by channel").count() == 1
    assert report.page.get_by_role("img").count() == len(CHARTS)
    # The small in-person cell is hatched: its bar is filled with a pattern, which ranked bars never are.
    assert report.page.locator("#chart-by-channel svg pattern").count() >= 1
    assert report.page.locator("#chart-by-step svg pattern").count() == 0
    assert report.page.locator("#by-channel tr.small .tag").inner_text() == "n < 30"
    assert report.page.get_by_text("About 260 more contacted candidates would settle it.").is_visible()
    report.assert_quiet_and_local()


def test_an_empty_window_says_no_one_was_contacted_and_draws_no_chart(open_report, tmp_path):
    report = open_report("empty")
    report.screenshot(tmp_path, "report-empty")
    assert report.page.locator("#nobody").is_visible()
    assert "No one was contacted in this window." in report.page.locator("#nobody").inner_text()
    assert report.page.locator("svg").count() == 0
    assert report.headings() == ["Recommendations", "Definitions", "About this report"]
    report.assert_quiet_and_local()


def test_a_single_small_channel_renders_every_chart(open_report, tmp_path):
    report = open_report("single_channel")
    report.screenshot(tmp_path, "report-single-channel")
    assert report.headings() == HEADINGS
    sizes = report.chart_sizes()
    assert list(sizes) == CHARTS
    assert all(width > 100 and height > 100 and drawn > 100 for width, height, drawn in sizes.values()), sizes
    assert report.page.locator("#chart-by-channel svg pattern").count() >= 1
    report.assert_quiet_and_local()


def test_the_watch_on_the_page_sees_a_request_for_the_network_and_a_script_error(browser, tmp_path):
    """The checks above pass because the report is quiet, not because the watch is blind."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><title>leaky</title>'
        '<img src="http://192.0.2.1/pixel.png" alt=""><script>notAFunction()</script></html>',
        encoding="utf-8",
    )
    opened = Opened(browser, page)
    try:
        assert "http://192.0.2.1/pixel.png" in opened.requests
        assert any("notAFunction" in error for error in opened.errors)
        with pytest.raises(AssertionError):
            opened.assert_quiet_and_local()
    finally:
        opened.context.close()
