"""End to end in headless Chromium (``dash_duo``): every page loads, a scenario runs.

Each test writes a screenshot of its page to ``docs/screenshots/<page>.png``.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.dashboards.conftest import screenshot


@pytest.fixture
def app(need_browser, settings):
    from dashboards.app import create_app

    return create_app(scenarios_dir=settings.scenarios_dir, work_dir=settings.work_dir)


def severe(dash_duo) -> list:
    return [entry for entry in (dash_duo.get_logs() or []) if entry.get("level") == "SEVERE"]


def test_scenarios_page_edit_run_and_update(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/?scenario=tiny&rate_rps=150.0")
    dash_duo.wait_for_contains_text("#scn-validation", "valid: 2 design(s)", timeout=20)
    assert "rate_rps=150" in dash_duo.find_element("#scn-validation").text
    assert dash_duo.find_element("#prices-as-of").text.startswith("prices as of 20")
    assert dash_duo.find_element("#data-as-of").text.startswith("data as of")
    # the URL's edit reached the input
    assert dash_duo.find_element("#scn-in-rate_rps").get_attribute("value") == "150"

    nodes = dash_duo.find_element("#scn-in-nodes")
    nodes.send_keys(Keys.CONTROL, "a")
    nodes.send_keys("3", Keys.ENTER)
    dash_duo.wait_for_contains_text("#scn-validation", "small.nodes=3", timeout=10)
    WebDriverWait(dash_duo.driver, 10).until(lambda d: "small.nodes=3" in d.current_url)
    assert "small.nodes=3" in dash_duo.find_element("#scn-share").get_attribute("value")

    dash_duo.find_element("#scn-run").click()
    dash_duo.wait_for_element("#scn-comparison", timeout=60)
    dash_duo.wait_for_contains_text("#scn-comparison", "3x aws:g5.xlarge", timeout=10)
    for fig in ("distribution", "pareto", "fleet", "queue", "purchase"):
        dash_duo.wait_for_element(f"#scn-fig-{fig} .main-svg", timeout=20)
    traces = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#scn-fig-distribution .scatter")
    assert len(traces) >= 2
    assert "$" in dash_duo.find_element("#scn-purchase-table").text
    assert dash_duo.find_element("#scn-run").is_enabled()
    assert dash_duo.find_element("#scn-calibrate").get_attribute("href").split("?")[1] \
        .startswith("run=")

    # a validation error is a message, and the app keeps working
    nodes = dash_duo.find_element("#scn-in-nodes")
    nodes.send_keys(Keys.CONTROL, "a")
    nodes.send_keys("0", Keys.ENTER)
    dash_duo.wait_for_contains_text("#scn-validation", "must be", timeout=10)
    assert "fleet.nodes" in dash_duo.find_element("#scn-validation").text
    nodes.send_keys(Keys.CONTROL, "a")
    nodes.send_keys("3", Keys.ENTER)
    dash_duo.wait_for_contains_text("#scn-validation", "valid:", timeout=10)
    assert severe(dash_duo) == []
    screenshot(dash_duo, "scenarios")


def test_shared_url_restores_the_view(dash_duo, app):
    dash_duo.start_server(app)
    url = dash_duo.server_url + "/?scenario=tiny&big.max_batch=4&replications=3"
    dash_duo.wait_for_page(url=url)
    dash_duo.wait_for_contains_text("#scn-validation", "big.max_batch=4", timeout=20)
    assert dash_duo.find_element("#scn-in-nodes").get_attribute("value") == "1"
    assert severe(dash_duo) == []


@pytest.mark.parametrize("page", ["cost-review", "calibration"])
def test_billing_pages_load(dash_duo, app, page):
    from dashboards.billing_logic import unavailable_reason

    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/{page}")
    prefix = "cr" if page == "cost-review" else "cal"
    dash_duo.wait_for_element(f"#{prefix}-page", timeout=20)
    reason = unavailable_reason()
    text = dash_duo.find_element(f"#{prefix}-page").text
    if reason is not None:
        assert "billing support is not available" in text
    assert severe(dash_duo) == []
    screenshot(dash_duo, page)
    if reason is not None:
        pytest.skip(f"billing support is not available: {reason}")


def test_cost_review_upload(dash_duo, app, shared_data):
    from dashboards.billing_logic import unavailable_reason
    from tests.dashboards.test_billing_pages import CUR

    if unavailable_reason() is not None:
        pytest.skip(f"billing support is not available: {unavailable_reason()}")
    sample = shared_data / CUR
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/cost-review")
    dash_duo.wait_for_element("#cr-upload input[type=file]", timeout=20).send_keys(str(sample))
    dash_duo.wait_for_contains_text("#cr-upload-msg", "uploaded", timeout=30)
    dash_duo.wait_for_element("#cr-fig-daily .main-svg", timeout=60)
    dash_duo.wait_for_contains_text("#cr-review", "2023-11", timeout=10)
    assert severe(dash_duo) == []
    screenshot(dash_duo, "cost-review-upload")


def test_an_overloaded_run_is_flagged_on_the_page_as_in_the_json(dash_duo, app, settings):
    """Issue 15: a figure the run cannot support is flagged in the dashboard too: the page's
    flags row and warnings match the codes and messages of the results JSON for the same
    edited scenario."""
    from dashboards import scenario_logic
    from planner.reports.sections import FLAG_MARKS
    from planner.run import run_scenario

    edits = {"rate_rps": 100000.0}
    expected = run_scenario(scenario_logic.build_scenario(settings, "tiny", edits)).to_dict()
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/?scenario=tiny&rate_rps=100000.0")
    dash_duo.wait_for_contains_text("#scn-validation", "valid: 2 design(s)", timeout=20)
    dash_duo.find_element("#scn-run").click()
    dash_duo.wait_for_element("#scn-comparison", timeout=60)
    rows = dash_duo.driver.find_elements(By.CSS_SELECTOR, "#scn-comparison tr")
    cells = {r.find_elements(By.CSS_SELECTOR, "td, th")[0].text:
             [c.text for c in r.find_elements(By.CSS_SELECTOR, "td, th")[1:]] for r in rows}
    for design, shown in zip(expected["designs"], cells["flags"]):
        marks = [FLAG_MARKS[w["code"]] for w in design["warnings"] if w["code"] in FLAG_MARKS]
        assert marks and "OVERLOADED" in marks
        assert shown == ", ".join(dict.fromkeys(marks))
        overload = next(w["message"] for w in design["warnings"] if w["code"] == "overload")
        assert overload.split(" (arrivals")[0] in dash_duo.driver.page_source
    assert severe(dash_duo) == []
