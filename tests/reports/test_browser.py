"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``.ci/run`` installs), driven by Selenium.

Screenshots go to ``test-artifacts/`` (or ``$NOAIGUARD_TEST_ARTIFACTS``) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noaiguard import Config
from noaiguard.agents import AgentDB
from noaiguard.backends.memory import MemoryEventStore
from noaiguard.reports import build_report, render
from tests.store.services import unavailable

from .seed import MON, WEEK, seed

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("NOAIGUARD_TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        unavailable("Chromium", "install the Debian packages chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = MemoryEventStore()
    seed(store)  # hostile User-Agents and paths included
    report = build_report(
        store,
        WEEK,
        agents=AgentDB.load(),
        config=Config(),
        site="mara.example",
        now=MON + 8 * 86400,
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(report, "html"), "utf-8")
    return path


def _screenshot(browser: Any, name: str, width: int) -> Path:
    browser.set_window_size(width, 900)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, height + 100)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / name
    assert browser.save_screenshot(str(target))
    assert target.stat().st_size > 10_000
    return target


def test_the_report_renders_with_visible_charts_and_no_console_errors(
    browser: Any, page: Path
) -> None:
    browser.get_log("browser")  # start from an empty log
    browser.get(page.as_uri())
    assert browser.title.startswith("noaiguard report for mara.example")
    charts = browser.execute_script(
        """return [...document.querySelectorAll('svg.chart')].map(svg => {
               const box = svg.getBoundingClientRect();
               const bars = [...svg.querySelectorAll('rect')]
                   .filter(r => r.getBoundingClientRect().height > 0);
               return [box.width, box.height, bars.length];
           });"""
    )
    assert len(charts) == 2
    for width, height, bars in charts:
        assert width > 300 and height > 100 and bars >= 6
    assert browser.execute_script("return window.pwned") is None  # nothing hostile ran
    assert browser.execute_script("return document.scripts.length") == 0
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    _screenshot(browser, "report-desktop.png", 1100)


def test_the_report_fits_a_phone_screen(browser: Any, page: Path) -> None:
    browser.set_window_size(390, 844)
    browser.get(page.as_uri())
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0  # wide tables scroll inside their box, the page does not
    _screenshot(browser, "report-phone.png", 390)
