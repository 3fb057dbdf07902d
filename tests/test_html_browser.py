"""The HTML report in a real headless Chromium (Debian's package, driven over the DevTools pipe): no console
errors, no network, every section there, headers that sort, strategies that hide, a screenshot that is not
blank, and still readable with JavaScript off."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from browser import chromium, require_chromium
from PIL import Image
from typer.testing import CliRunner

from albench.cli import app
from albench.results.html_report import SECTIONS

pytestmark = pytest.mark.integration
RUNS = Path(__file__).parent / "fixtures" / "runs"
ROWS = "Array.from(document.querySelectorAll('#leaderboard table')[0].tBodies[0].rows).map(r => r.cells[0].textContent)"


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    require_chromium()  # skip (or fail in CI) before rendering anything
    output = tmp_path_factory.mktemp("html") / "report.html"
    result = CliRunner().invoke(app, ["report", "html", str(output), "-r", str(RUNS), "--overlays", "0"])
    assert result.exit_code == 0, result.output
    return output


def test_the_report_in_chromium(page):
    with chromium() as browser:
        seconds = browser.open(page)
        assert browser.console_errors() == []
        assert browser.evaluate("performance.getEntriesByType('resource').length") == 0  # nothing fetched
        sections = browser.evaluate(
            "Array.from(document.querySelectorAll('main > section')).map("
            "s => [s.id, s.querySelector('h2').textContent])"
        )
        assert sections == [list(section) for section in SECTIONS]
        assert browser.evaluate("document.querySelectorAll('#curves svg').length") == 2
        assert browser.evaluate("document.querySelectorAll('#classes img').length") == 1
        # clicking the cityscapes header sorts by it, best first; a second click reverses; the first table is
        # the AuALC leaderboard, ranked by Average
        assert browser.evaluate(ROWS) == ["oreal (max)", "bvsb (max)", "oreal (mean)", "bvsb (mean)", "random"]
        header = "#leaderboard table thead th:nth-child(2)"
        browser.click(header)
        assert browser.evaluate(ROWS) == ["oreal (max)", "oreal (mean)", "bvsb (max)", "random", "bvsb (mean)"]
        browser.click(header)
        assert browser.evaluate(ROWS) == ["bvsb (mean)", "random", "bvsb (max)", "oreal (mean)", "oreal (max)"]
        browser.click("#leaderboard table thead th:nth-child(1)")
        assert browser.evaluate(ROWS) == ["bvsb (max)", "bvsb (mean)", "oreal (max)", "oreal (mean)", "random"]
        # the toggles are shown by the script; unticking random hides its lines and bands in both panels
        assert browser.evaluate("document.querySelectorAll('fieldset.toggles[hidden]').length") == 0
        browser.click("#curves fieldset.toggles input[value='4']")
        hidden = (
            "Array.from(document.querySelectorAll('[id^=\"f1-strategy-4-\"]'))"
            ".map(e => [e.id, getComputedStyle(e).display])"
        )
        shown = dict(browser.evaluate(hidden))
        assert shown and all(v == "none" for k, v in shown.items() if "-legend-" not in k)
        assert (
            browser.evaluate("getComputedStyle(document.querySelector('[id^=\"f1-strategy-3-line\"]')).display")
            != "none"
        )
        browser.evaluate("window.scrollTo(0, 0)")
        picture = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("L"), dtype=np.float64)
        assert picture.shape == (1000, 1400)
        assert picture.std() > 20 and len(np.unique(picture)) > 50  # text, tables and colours, not a blank page
        assert seconds < 2, f"the page took {seconds:.2f} s to load and paint"


def test_readable_without_javascript(page):
    with chromium() as browser:
        browser.call("Emulation.setScriptExecutionDisabled", session=True, value=True)
        browser.open(page, paint=False)
        assert browser.evaluate("document.querySelectorAll('fieldset.toggles:not([hidden])').length") == 0
        assert browser.evaluate("document.querySelectorAll('table').length") > 5
        assert browser.evaluate("document.querySelector('#leaderboard td').textContent") == "41.9 ± 4.4"
        assert browser.evaluate("document.querySelector('#leaderboard th').tabIndex") == -1  # the script never ran
