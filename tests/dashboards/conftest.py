"""Fixtures of the dashboard tests: a tiny scenario folder, an app, and headless Chromium.

Browser tests use ``dash[testing]``'s ``dash_duo`` with Debian's ``chromium`` and
``chromedriver``. Without them the tests skip with the reason, except when ``CI=true``, where a
missing browser fails them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"

TINY_SCENARIO = """\
name: tiny
description: Two small fleets serving 200 requests/s, p99 <= 50 ms (a test scenario).
horizon_s: 30
warmup_s: 2
replications: 2
seed: 3
workloads:
  - name: api
    kind: inference
    arrivals: {kind: poisson, rate_rps: 200}
    slo: {percentile: 99, latency_ms: 50}
designs:
  - name: small
    workload: api
    pattern: realtime
    fleet: {instance: aws:g5.xlarge, nodes: 1, purchase: on_demand}
    batching: {max_batch: 8, max_wait_ms: 2}
    service_time: {kind: linear, base_ms: 2, per_item_ms: 0.5}
  - name: big
    workload: api
    pattern: realtime
    fleet: {instance: aws:g5.2xlarge, nodes: 2, purchase: on_demand}
    batching: {max_batch: 16, max_wait_ms: 5}
    service_time: {kind: constant, ms: 4}
"""


@pytest.fixture
def scenarios_dir(tmp_path: Path) -> Path:
    """Return a folder holding the tiny scenario, a copy of bert-serving and its data."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(TINY_SCENARIO, encoding="utf-8")
    shutil.copy(REPO / "scenarios" / "bert-serving.yaml", folder / "bert-serving.yaml")
    (folder / "data").mkdir()
    shutil.copy(REPO / "scenarios" / "data" / "h100_forward_latency.csv", folder / "data")
    return folder


@pytest.fixture
def settings(scenarios_dir: Path, tmp_path: Path):
    """Return settings over the tiny scenarios with a private work folder."""
    from dashboards.settings import make_settings

    return make_settings(scenarios_dir=scenarios_dir, work_dir=tmp_path / "work")


def browser_missing() -> str | None:
    """Return why the browser tests cannot run here, or None."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    return f"{' and '.join(missing)} not on PATH (apt-get install chromium chromium-driver)" \
        if missing else None


@pytest.fixture
def need_browser() -> None:
    """Skip (locally) or fail (CI=true) when Chromium or chromedriver is missing."""
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests need Chromium: {reason}")
    pytest.skip(f"browser tests need Chromium: {reason}")


def pytest_setup_options():
    """Return the Chrome options of ``dash_duo``: headless Debian Chromium."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800"):
        options.add_argument(arg)
    chromium = shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    return options


def screenshot(dash_duo, page: str) -> Path:
    """Write a PNG of the current page to ``docs/screenshots/<page>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{page}.png"
    dash_duo.driver.save_screenshot(str(path))
    return path


def chart_text(dash_duo, selector: str, timeout: float = 10.0) -> str:
    """Return the text of a chart's SVG element, read in the page by JavaScript.

    Plotly redraws a responsive chart when its box settles, replacing its SVG nodes; an element
    found first and read after such a redraw is stale. Reading in one script call cannot be.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        text = dash_duo.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            selector)
        if text is not None or time.monotonic() > deadline:
            assert text is not None, f"no element {selector!r} within {timeout:g} s"
            return text
        time.sleep(0.1)
