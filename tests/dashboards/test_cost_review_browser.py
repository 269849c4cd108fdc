"""The Cost review and Calibration pages in headless Chromium against the CLI's JSON.

On a generated month of billing (``billing_month``: ~30,000 FOCUS rows, October in progress,
an anomaly on 14 October): every number the page shows is read and found in the CLI's JSON for
the same files (table cells and KPI cards number by number, then every other number on the
page), the page is ready within 2 s, and the defects of issue 18 stay fixed: percentages,
"data as of", uploads (a .yaml, a non-billing CSV, a reload), month options following the source,
filters in the URL and cleared, empty states, and money and labels as people write them.
The Calibration page, on the same server, reconciles a run with the same bills: the header link
keeps ``?run=``, the bills' node-hours and rate are ``planner billing rates --format json``'s,
and each difference has its unit, percentage and direction (defect 7).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.dashboards.billing_month import (  # noqa: F401 - a fixture
    SPIKE_DAY,
    generated_bills,
    write_november,
)
from tests.dashboards.conftest import screenshot

pytestmark = pytest.mark.usefixtures("need_browser")


@pytest.fixture(scope="module")
def bills(generated_bills) -> Path:  # noqa: F811
    return generated_bills


@pytest.fixture(scope="module")
def cli_json(bills, tmp_path_factory) -> dict[str, Any]:
    """``planner billing review DIR --format json`` through the CLI's Typer app."""
    from typer.testing import CliRunner

    from planner.cli.main import app

    out = tmp_path_factory.mktemp("cli") / "review.json"
    result = CliRunner().invoke(app, ["billing", "review", str(bills), "--format", "json",
                                      "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


@pytest.fixture
def app(bills, settings):
    from dashboards.app import create_app

    return create_app(data_dir=bills, scenarios_dir=settings.scenarios_dir,
                      work_dir=settings.work_dir)


# ----------------------------------------------------------------------------- reading numbers

NUMBER = re.compile(r"(?<![\w.])([-+]?)(\$?)(\d[\d,]*(?:\.\d+)?)(%?)(?![\w])")
DATES = re.compile(r"\d{4}-\d{2}(?:-\d{2})?(?: \d{2}:\d{2}(?: UTC)?)?|\d{2}:\d{2}")


def numbers(text: str) -> list[tuple[float, int, str]]:
    """Every number in ``text`` outside dates: (value, decimals shown, kind: $, % or '')."""
    out = []
    for sign, dollar, digits, pct in NUMBER.findall(DATES.sub(" ", text)):
        value = float(digits.replace(",", "")) * (-1 if sign == "-" else 1)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        out.append((value, decimals, "%" if pct else "$" if dollar else ""))
    return out


def shown(value: float, decimals: int, kind: str, truth: float | None) -> bool:
    """Whether a number shown to ``decimals`` places is ``truth`` (a fraction for %)."""
    if truth is None:
        return False
    expected = truth * 100 if kind == "%" else truth
    return abs(expected - value) <= 0.5 * 10 ** -decimals + 1e-9 * max(1.0, abs(expected))


def one(text: str, truth: float | None, kind: str = "$") -> None:
    """Assert ``text`` holds exactly one number and that it shows ``truth`` (None: n/a)."""
    if truth is None:
        assert text.strip() == "n/a", text
        return
    found = numbers(text)
    assert len(found) == 1, (text, found)
    value, decimals, got = found[0]
    assert got == kind and shown(value, decimals, kind, truth), (text, truth)


def leaves(doc: Any) -> list[float]:
    """Every number of the JSON, and every number written in its strings (rules, notes)."""
    if isinstance(doc, dict):
        return [v for x in doc.values() for v in leaves(x)]
    if isinstance(doc, list):
        return [v for x in doc for v in leaves(x)]
    if isinstance(doc, bool) or doc is None:
        return []
    if isinstance(doc, (int, float)):
        return [float(doc)]
    return [v for v, _, _ in numbers(str(doc))]


def cells(dash_duo, table_id: str) -> list[list[str]]:
    rows = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    return [[c.text for c in r.find_elements(By.CSS_SELECTOR, "td")] for r in rows]


# ----------------------------------------------------------------------------- the review

def test_every_number_on_the_page_is_the_cli_json(dash_duo, app, bills, cli_json, settings,
                                                 tmp_path):
    """Issue 18 defects 1, 2, 7 and 9 and the KPI strip: the pages against the CLI's JSON."""
    from dashboards import billing_logic

    doc = cli_json
    dash_duo.start_server(app)
    began = time.perf_counter()
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/cost-review")
    dash_duo.wait_for_element("#cr-kpis", timeout=60)
    dash_duo.wait_for_element("#cr-fig-daily .main-svg", timeout=20)
    first_s = time.perf_counter() - began  # the server reads the files: reported, not bound
    # page ready <= 2 s for a 30k-row month once the server has read it (the read is cached)
    assert billing_logic.read(billing_logic.data_files(bills)).n_rows >= 30_000
    times = []
    for _ in range(3):  # a full load of the page's URL; the best of three (a shared CPU)
        began = time.perf_counter()
        dash_duo.driver.get(f"{dash_duo.server_url}/cost-review?group_by=service")
        dash_duo.wait_for_element("#cr-kpis", timeout=10)
        dash_duo.wait_for_element("#cr-fig-daily .main-svg", timeout=10)
        times.append(time.perf_counter() - began)
    print(f"cost review ready in {min(times):.2f} s (30k rows, read once; loads "
          f"{', '.join(f'{t:.2f}' for t in times)} s; the first visit {first_s:.2f} s)")
    assert min(times) <= 2.0

    # defect 2: the data's last charge (not the billing period's end), a month in progress
    header = dash_duo.find_element("#data-as-of").text
    latest = doc["freshness"]["latest_charge_period_end"]
    assert header == f"data as of {latest[:10]} {latest[11:16]} UTC (2026-10 in progress)"
    assert "2026-11-01" not in header and doc["freshness"]["month_complete"] is False

    # defect 1: percentages as the CLI's (a fraction x 100), in the headline and the KPIs
    headline = dash_duo.find_element("#cr-headline").text
    change = doc["change"]
    assert f"({change['effective_pct'] * 100:+.1f}%)" in headline
    one(dash_duo.find_element("#cr-kpi-month .kpi-value").text, doc["current"]["effective_usd"])
    mtd, month_detail = doc["month_to_date"], dash_duo.find_element("#cr-kpi-month").text
    assert f"({change['effective_pct'] * 100:+.1f}%)" in month_detail
    one(dash_duo.find_element("#cr-kpi-mtd .kpi-value").text, mtd["current_usd"])
    detail = [n for n in numbers(dash_duo.find_element("#cr-kpi-mtd .kpi-detail").text)]
    assert [shown(*detail[i], t) for i, t in ((0, mtd["previous_usd"]), (3, mtd["change_usd"]),
                                              (4, mtd["change_pct"]))] == [True] * 3
    fc = doc["forecast"]
    one(dash_duo.find_element("#cr-kpi-forecast .kpi-value").text, fc["point_usd"])
    band = numbers(dash_duo.find_element("#cr-kpi-forecast .kpi-detail").text)
    assert shown(*band[0], fc["level"]) and shown(*band[1], fc["low_usd"]) \
        and shown(*band[2], fc["high_usd"])
    gpu = doc["gpu"]
    one(dash_duo.find_element("#cr-kpi-gpu-rate .kpi-value").text,
        gpu["effective_usd_per_gpu_hour"])
    rates = numbers(dash_duo.find_element("#cr-kpi-gpu-rate .kpi-detail").text)
    assert shown(*rates[0], gpu["list_usd_per_gpu_hour"]) \
        and shown(*rates[1], gpu["used_usd_per_gpu_hour"])
    shares = numbers(dash_duo.find_element("#cr-kpi-shares .kpi-value").text)
    assert shown(*shares[0], gpu["spot_share"]) and shown(*shares[1], gpu["commitment_share"])
    total = doc["commitments"]["total"]
    cover = numbers(dash_duo.find_element("#cr-kpi-coverage .kpi-value").text)
    assert shown(*cover[0], total["coverage_hours"]) and shown(*cover[1], total["utilisation"])

    # the tables, cell by cell
    movers = {r[0]: r[1:] for r in cells(dash_duo, "cr-top-movers-0")}
    assert len(movers) == len(doc["movers"])
    for m in doc["movers"]:
        row = movers[m["group"]]
        for text, key, kind in zip(row, ("current_usd", "previous_usd", "change_usd",
                                         "change_pct", "share_of_change"),
                                   ("$", "$", "$", "%", "%")):
            one(text, m[key], kind)
    gpu_rows = cells(dash_duo, "cr-gpu-spend-1")
    assert len(gpu_rows) == len(gpu["rates"])
    for row, r in zip(gpu_rows, gpu["rates"]):
        assert row[0] == r["instance_type"] and "_" not in row[1]  # on-demand, savings plan
        for text, key, kind in zip(row[3:11], ("usage_hours", "gpu_hours", "used_usd",
                                               "unused_commitment_usd", "effective_usd",
                                               "used_usd_per_gpu_hour",
                                               "effective_usd_per_gpu_hour",
                                               "list_usd_per_gpu_hour"),
                                   ("", "", "$", "$", "$", "$", "$", "$")):
            one(text, r[key], kind)
    lines = doc["commitments"]["by_type"] + [total]
    for row, line in zip(cells(dash_duo, "cr-commitments-0"), lines, strict=True):
        for text, key, kind in zip(row[1:], ("coverage_hours", "coverage_cost", "used_usd",
                                             "unused_usd", "utilisation", "savings_usd"),
                                   ("%", "%", "$", "$", "%", "$")):
            one(text, line[key], kind)
    anomalies = cells(dash_duo, "cr-anomalies-0")
    assert [r[0] for r in anomalies] == [a["day"] for a in doc["anomalies"]]
    assert SPIKE_DAY.isoformat() in [a["day"] for a in doc["anomalies"]]
    for row, a in zip(anomalies, doc["anomalies"]):
        for text, key in zip(row[1:4], ("cost_usd", "baseline_usd", "delta_usd")):
            one(text, a[key])
        assert a["drivers"][0]["group"] in row[5]

    # every other number on the page is one of the JSON's (or the CLI report's list change
    # and GPU discount, computed here from the JSON)
    truths = leaves(doc)
    cur, prev = doc["current"], doc["previous"]
    truths += [cur["list_usd"] - prev["list_usd"], cur["list_usd"] / prev["list_usd"] - 1]
    truths += [1 - r["effective_usd_per_gpu_hour"] / r["list_usd_per_gpu_hour"]
               for r in gpu["rates"] if r["list_usd_per_gpu_hour"]]
    text = "\n".join(e.text for e in dash_duo.driver.find_elements(
        By.CSS_SELECTOR, "#cr-headline, #cr-kpis, .review-section, #cr-source-text"))
    unknown = [(v, d, k) for v, d, k in numbers(text)
               if not any(shown(v, d, k, t) for t in truths) and not (k == "" and v in (1,))]
    assert unknown == [], unknown[:10]
    assert len(numbers(text)) > 200
    # the daily chart draws the JSON's days
    drawn = dash_duo.driver.execute_script(
        "return document.querySelector('#cr-fig-daily .js-plotly-plot').data"
        ".filter(t => t.type === 'bar').map(t => [t.name, t.x, t.y]);")
    by_day: dict[tuple[str, str], float] = {}
    for name, xs, ys in drawn:
        by_day.update({(name, x): y for x, y in zip(xs, ys)})
    expected = {(p["group"], p["day"]): p["effective_usd"] for p in doc["daily_by_group"]}
    assert by_day == pytest.approx(expected)

    # defect 9: money and labels as people write them
    page = dash_duo.find_element("#cr-page").text
    assert "$-" not in page and "$+" not in page and "-$" in page and "+$" in page
    assert "savings_plan" not in page and "on_demand" not in page and "savings plan" in page
    assert [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"] == []
    dash_duo.driver.set_window_size(1400, dash_duo.driver.execute_script(
        "return document.documentElement.scrollHeight") + 120)
    screenshot(dash_duo, "cost-review")
    check_calibration(dash_duo, settings, bills, tmp_path)


def check_calibration(dash_duo, settings, bills: Path, tmp_path: Path) -> None:
    """The Calibration page of a run of the tiny scenario against ``bills``."""
    from typer.testing import CliRunner

    from dashboards import scenario_logic
    from planner.cli.main import app as cli

    out = tmp_path / "rates.json"
    # October is in progress: the page reconciles September, the last complete month
    ran = CliRunner().invoke(cli, ["billing", "rates", str(bills), "--month", "2026-09",
                                   "--format", "json", "-q", "-o", str(out)])
    assert ran.exit_code == 0, ran.output
    g5 = [r for r in json.loads(out.read_text())["rows"]
          if r["instance_type"] == "g5.xlarge" and r["purchase_option"] == "on_demand"]
    hours = sum(r["usage_hours"] for r in g5)
    rate = sum(r["effective_cost"] for r in g5) / hours

    run_id = scenario_logic.run_view(settings, "tiny", {}).run_id
    dash_duo.driver.set_window_size(1400, 1800)
    dash_duo.driver.get(f"{dash_duo.server_url}/calibration?run={run_id}")
    dash_duo.wait_for_element("#cal-table", timeout=60)
    dash_duo.wait_for_element("#cal-fig .main-svg", timeout=20)
    dash_duo.wait_for_text_to_equal(  # the --data bills it reconciles with
        "#data-as-of", "data as of 2026-10-20 00:00 UTC (2026-10 in progress)", timeout=10)
    link = dash_duo.find_element("#nav-calibration")
    assert link.get_attribute("href").endswith(f"/calibration?run={run_id}")
    dash_duo.find_element("#nav-scenarios").click()
    dash_duo.wait_for_element("#scn-validation", timeout=20)
    dash_duo.find_element("#nav-calibration").click()  # back through the header: same run
    dash_duo.wait_for_element("#cal-table", timeout=30)

    assert "the last complete month is shown; choose 2026-10" in \
        dash_duo.find_element("#cal-body").text
    rows = {r[0]: r for r in cells(dash_duo, "cal-table")}
    small = rows["small"]
    assert small[2] == "on-demand / on-demand"
    assert float(small[4].replace(",", "")) == pytest.approx(hours, abs=0.05)
    assert float(small[8].lstrip("$")) == pytest.approx(rate, abs=5e-5)
    # the bills' 10 % on-demand discount: the design costs less at the bills' rate
    assert re.fullmatch(r"-\$[\d,]+\.\d\d/month \(-[\d.]+%\), bills lower", small[10]), small[10]
    assert re.fullmatch(r"[+-][\d.]+%", small[5]), small[5]
    big = rows["big"]  # g5.2xlarge: not in these bills, n/a rather than $0
    assert big[4] == big[8] == big[10] == "n/a"
    page = dash_duo.find_element("#cal-page").text
    assert "on_demand" not in page and "$-" not in page
    assert [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"] == []
    dash_duo.driver.set_window_size(1400, dash_duo.driver.execute_script(
        "return document.documentElement.scrollHeight") + 120)
    screenshot(dash_duo, "calibration")


def test_uploads_filters_and_empty_states(dash_duo, app, bills, settings, tmp_path):
    """Issue 18 defects 2, 3, 4 and 8: a bad tag filter says so, an empty selection is a
    notice, filters live in the URL and clear; a .yaml and a non-billing CSV are refused by
    name (no server path) and the source stays; a billing upload becomes the source (the
    source line and the header name it, the month options follow it, the URL keeps it, the
    download is its review); no sideways scroll at 390 px."""
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/cost-review?month=2026-09&tag=team")
    dash_duo.wait_for_contains_text("#cr-headline", "2026-09: effective", timeout=60)
    dash_duo.wait_for_contains_text("#cr-filter-msg", "'team' is not key=value", timeout=10)
    assert "month=2026-09" in dash_duo.driver.current_url

    tag = dash_duo.find_element("#cr-tag")
    tag.send_keys(Keys.CONTROL, "a")
    tag.send_keys("team=nobody", Keys.ENTER)
    dash_duo.wait_for_contains_text("#cr-review", "Nothing to review", timeout=10)
    notice = dash_duo.find_element("#cr-review .msg")
    assert "info" in notice.get_attribute("class") and "team=nobody" in notice.text
    assert "check the input files" not in dash_duo.find_element("#cr-page").text
    WebDriverWait(dash_duo.driver, 10).until(lambda d: "tag=team%3Dnobody" in d.current_url)

    dash_duo.find_element("#cr-clear").click()
    dash_duo.wait_for_contains_text("#cr-headline", "2026-10: effective", timeout=10)
    WebDriverWait(dash_duo.driver, 10).until(
        lambda d: "month=" not in d.current_url and "tag=" not in d.current_url)
    assert dash_duo.find_element("#cr-tag").get_attribute("value") == ""

    dash_duo.driver.get(f"{dash_duo.server_url}/cost-review?month=2026-09")
    dash_duo.wait_for_contains_text("#cr-headline", "2026-09: effective", timeout=20)
    upload = dash_duo.find_element("#cr-upload input[type=file]")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("name: not-a-bill\n")
    upload.send_keys(str(scenario))
    dash_duo.wait_for_contains_text("#cr-upload-msg", "scenario.yaml is not a billing export",
                                    timeout=10)
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    dash_duo.find_element("#cr-upload input[type=file]").send_keys(str(notes))
    dash_duo.wait_for_contains_text("#cr-upload-msg", "notes.csv could not be read", timeout=20)
    message = dash_duo.find_element("#cr-upload-msg").text
    assert "uploaded" not in message and str(settings.work_dir) not in message
    assert "/uploads/" not in message and "error" in dash_duo.find_element(
        "#cr-upload-msg .msg").get_attribute("class")
    assert dash_duo.find_element("#cr-source-text").text.startswith("--data folder")
    assert "2026-09: effective" in dash_duo.find_element("#cr-headline").text

    november = write_november(tmp_path / "nov")
    dash_duo.find_element("#cr-upload input[type=file]").send_keys(str(november))
    dash_duo.wait_for_contains_text("#cr-upload-msg", "uploaded focus-2026-11.csv", timeout=30)
    dash_duo.wait_for_contains_text("#cr-headline", "2026-11: effective", timeout=20)
    assert dash_duo.find_element("#cr-source-text").text.startswith(
        "upload focus-2026-11.csv")
    assert "2026-09 is not in upload focus-2026-11.csv" in \
        dash_duo.find_element("#cr-filter-msg").text
    header = dash_duo.find_element("#data-as-of").text
    assert header == "data as of 2026-12-01 00:00 UTC (2026-11 complete), upload " \
                     "focus-2026-11.csv"
    dash_duo.find_element("#cr-month").click()
    options = [o.text for o in dash_duo.driver.find_elements(
        By.CSS_SELECTOR, ".dash-dropdown-option")]
    assert options == ["2026-11"]
    WebDriverWait(dash_duo.driver, 10).until(lambda d: "upload=" in d.current_url)
    assert "month=" not in dash_duo.driver.current_url

    dash_duo.driver.refresh()  # a reload keeps the upload
    dash_duo.wait_for_contains_text("#cr-headline", "2026-11: effective", timeout=20)
    assert dash_duo.find_element("#cr-source-text").text.startswith("upload focus-2026-11.csv")
    token = re.search(r"upload=([0-9a-f]{32})", dash_duo.driver.current_url).group(1)
    dash_duo.find_element("#cr-dl-markdown").click()  # the upload's review, as the CLI's
    saved = Path(dash_duo.download_path) / "billing-review-2026-11.md"
    WebDriverWait(dash_duo.driver, 20).until(lambda _d: saved.is_file())
    assert saved.read_text().startswith("# Monthly cost review 2026-11 (by service)")

    dash_duo.find_element("#nav-calibration").click()  # Calibration uses --data: so does the
    dash_duo.wait_for_text_to_equal(                     # header there
        "#data-as-of", "data as of 2026-10-20 00:00 UTC (2026-10 in progress)", timeout=10)

    shutil.rmtree(settings.upload_dir / token)  # an expired upload: said, not silently gone
    dash_duo.driver.get(f"{dash_duo.server_url}/cost-review?upload={token}")
    dash_duo.wait_for_contains_text("#cr-filter-msg", "no longer on the server", timeout=20)
    assert dash_duo.find_element("#cr-source-text").text.startswith("--data folder")
    dash_duo.wait_for_text_to_equal(
        "#data-as-of", "data as of 2026-10-20 00:00 UTC (2026-10 in progress)", timeout=10)

    dash_duo.driver.set_window_size(390, 900)  # a phone: the page does not scroll sideways
    overflow = ("return document.documentElement.scrollWidth - "
                "document.documentElement.clientWidth")
    try:  # the charts follow the window's new width (a resize event later)
        WebDriverWait(dash_duo.driver, 10).until(lambda d: d.execute_script(overflow) <= 0)
    except TimeoutException:
        wide = dash_duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('body *')).filter(e => "
            "e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
            ".slice(0, 8).map(e => e.tagName + '#' + e.id + ' ' + "
            "Math.round(e.getBoundingClientRect().right))")
        pytest.fail(f"the page scrolls sideways at 390 px: {wide}")
    assert [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"] == []
