"""Cost review and calibration logic, with a real AWS CUR sample when the shared data is here."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dashboards import billing_logic as logic
from dashboards import scenario_logic
from domain.errors import PlannerError
from tests.dashboards.billing_month import generated_bills  # noqa: F401 - a fixture

CUR = Path("billing-samples/focus-converters/test-fixtures/"
           "aws-legacy-cur-sample-anonymous-aws-export-dataset.csv")


@pytest.fixture
def cur_sample(shared_data) -> Path:
    if logic.unavailable_reason() is not None:
        pytest.skip(f"billing support is not available: {logic.unavailable_reason()}")
    path = shared_data / CUR
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def _data_url(raw: bytes) -> str:
    return "data:text/csv;base64," + base64.b64encode(raw).decode()


def test_upload_is_saved_privately_with_a_safe_name(settings, tmp_path):
    from tests.dashboards.billing_month import write_november

    raw = write_november(tmp_path, n_rows=200).read_bytes()
    path, n_rows = logic.save_upload(settings, _data_url(raw), "../../../etc/cron.d/evil name.csv")
    assert path.parent.parent == settings.upload_dir.resolve()
    assert path.name == "evil_name.csv" and path.read_bytes() == raw and n_rows >= 200
    assert logic.upload_files(settings, path.parent.name) == [path]
    assert logic.upload_files(settings, "../../etc") == []
    src = logic.source(settings, path.parent.name)
    assert src.label == "upload evil_name.csv" and src.paths == (path,)


def test_an_upload_that_is_not_billing_is_refused_by_name_without_a_server_path(settings):
    """Issue 18 defect 3: a .yaml, or a CSV that is not a billing export, is an error naming
    the file (never the server's folders), and nothing is kept."""
    with pytest.raises(PlannerError, match=r"scenario.yaml is not a billing export"):
        logic.save_upload(settings, _data_url(b"name: x\n"), "scenario.yaml")
    with pytest.raises(PlannerError) as info:
        logic.save_upload(settings, _data_url(b"a,b\n1,2\n"), "notes.csv")
    text = str(info.value)
    assert text.startswith("notes.csv could not be read as billing data")
    assert str(settings.work_dir) not in text and "/uploads/" not in text
    assert not settings.upload_dir.exists() or list(settings.upload_dir.iterdir()) == []


def test_upload_size_limit(settings, monkeypatch):
    monkeypatch.setattr(logic, "BILLING_UPLOAD_LIMIT_BYTES", 10)
    with pytest.raises(PlannerError, match="larger than"):
        logic.save_upload(settings, _data_url(b"x" * 11), "big.csv")
    assert not settings.upload_dir.exists() or list(settings.upload_dir.iterdir()) == []


def test_a_tag_filter_without_equals_is_refused_with_the_fix():
    assert logic.parse_tag(" team = search ") == ("team", "search")
    assert logic.parse_tag("") is None and logic.parse_tag(None) is None
    with pytest.raises(PlannerError, match=r"'team' is not key=value; write e.g. team=search"):
        logic.parse_tag("team")


def test_review_of_a_real_cur_sample(cur_sample):
    from planner.reports.billing_review import daily_figure

    review = logic.review_of([cur_sample])
    assert review.month == "2023-11" and review.daily_by_group
    fig = daily_figure(review)
    bars = [t for t in fig.data if t.type == "bar"]
    assert fig.layout.barmode == "stack"
    assert sum(p.effective_usd for p in review.daily_by_group) == pytest.approx(
        sum(y for trace in bars for y in trace.y))
    options = logic.filter_options(logic.read([cur_sample]).frame)
    assert options["months"] == ["2023-11"]
    service = options["services"][0]["value"]
    only = logic.review_of([cur_sample], services=[service])
    assert only.current.effective_usd <= review.current.effective_usd
    with pytest.raises(logic.NoMatchingRows):
        logic.review_of([cur_sample], tag=("team", "no-such-team"))


def test_calibration_rows_use_the_bill_rate(settings):
    view = scenario_logic.run_view(settings, "tiny", {})
    hours = {d.name: d.node_hours for d in view.result.designs}
    rates = [{"instance_type": "g5.xlarge", "purchase_option": "on_demand",
              "usage_hours": 6.0, "effective_cost": 4.0},
             {"instance_type": "g5.xlarge", "purchase_option": "on_demand",  # another region
              "usage_hours": 4.0, "effective_cost": 3.0},
             {"instance_type": "g5.xlarge", "purchase_option": "spot",
              "usage_hours": 4.0, "effective_cost": 1.0}]
    rows = {r["design"]: r for r in logic.calibration_rows(view.result, rates)}
    small, big = rows["small"], rows["big"]
    assert small["bill_usd_per_node_hour"] == pytest.approx(0.7)
    cost = view.result.design("small").cost
    scale = cost.usd_per_month / cost.total_usd
    assert small["bill_usd_per_month"] == pytest.approx(0.7 * hours["small"] * scale)
    assert big["bill_usd_per_node_hour"] is None and big["difference_usd_per_month"] is None
    # reconciliation: the bills' node-hours and cost of g5.xlarge on demand, and the variances
    assert small["billed_node_hours"] == pytest.approx(10.0)
    assert small["billed_usd"] == pytest.approx(7.0)
    sim = small["simulated_usd_per_month"]
    assert small["difference_fraction"] == pytest.approx(
        (0.7 * hours["small"] * scale - sim) / sim)
    assert small["node_hours_fraction"] == pytest.approx(10.0 / (hours["small"] * scale) - 1)


def test_a_design_without_a_catalog_price_is_repriced_at_the_bills_rate(settings):
    """Issue 18 defect 7: no catalog price is no reason for n/a when the bills have a rate; the
    month scale then comes from the horizon and hours_per_month, as the cost model's own."""
    import dataclasses

    view = scenario_logic.run_view(settings, "tiny", {})
    small = view.result.design("small")
    cost = small.cost
    priced_scale = cost.usd_per_month / cost.total_usd
    unpriced = dataclasses.replace(small, cost=dataclasses.replace(
        cost, usd_per_month=None, total_usd=None, by_purchase={}))
    result = dataclasses.replace(view.result, designs=(unpriced,))
    rates = [{"instance_type": "g5.xlarge", "purchase_option": "on_demand",
              "usage_hours": 10.0, "effective_cost": 9.0}]
    (row,) = logic.calibration_rows(result, rates)
    assert row["simulated_usd_per_month"] is None and row["difference_usd_per_month"] is None
    assert row["bill_usd_per_month"] == pytest.approx(0.9 * small.node_hours * priced_scale)


def test_every_purchase_option_has_a_bill_category():
    from costmodels.billing.schema import PURCHASE_OPTIONS as BILL_CATEGORIES
    from domain.purchase import PURCHASE_OPTIONS

    assert {o: logic._PURCHASE_TO_BILL[o] for o in PURCHASE_OPTIONS} == {
        "on_demand": "on_demand", "spot": "spot", "reserved_1yr": "reserved",
        "reserved_3yr": "reserved", "savings_plan_1yr": "savings_plan",
        "savings_plan_3yr": "savings_plan"}
    assert set(logic._PURCHASE_TO_BILL.values()) <= set(BILL_CATEGORIES)


def test_bill_rates_are_effective_cost_over_hours(tmp_path):
    if logic.unavailable_reason() is not None:
        pytest.skip(f"billing support is not available: {logic.unavailable_reason()}")
    header = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,BilledCost,"
              "EffectiveCost,ListCost,ContractedCost,BillingCurrency,ChargeCategory,ServiceName,"
              "ProviderName,RegionId,x_Provider,x_InstanceType,x_UsageHours,x_PurchaseOption\n")
    rows = [("2026-09", 1, "g5.xlarge", "on_demand", 10, 10.0),
            ("2026-10", 1, "g5.xlarge", "on_demand", 48, 43.2),
            ("2026-10", 2, "g5.xlarge", "on_demand", 24, 21.6),
            ("2026-10", 3, "g5.xlarge", "spot", 10, 4.0)]
    lines = []
    for month, day, instance, purchase, hours, cost in rows:
        end = "2026-10-01" if month == "2026-09" else "2026-11-01"
        lines.append(f"{month}-01T00:00:00Z,{end}T00:00:00Z,{month}-{day:02d}T00:00:00Z,"
                     f"{month}-{day + 1:02d}T00:00:00Z,{cost},{cost},{cost},{cost},USD,Usage,"
                     f"EC2,AWS,us-east-1,aws,{instance},{hours},{purchase}\n")
    bill = tmp_path / "focus.csv"
    bill.write_text(header + "".join(lines))
    bills = logic.bill_rates([bill])
    assert bills["month"] == "2026-10" and bills["months"] == ["2026-09", "2026-10"]
    by = {(r["purchase_option"]): r for r in bills["rates"]}
    assert by["on_demand"]["effective_cost"] / by["on_demand"]["usage_hours"] == \
        pytest.approx(0.9)
    assert logic.bill_rates([bill], "2026-09")["rates"][0]["usage_hours"] == pytest.approx(10)


def test_bill_rates_without_compute_rows_are_all_na(cur_sample):
    bills = logic.bill_rates([cur_sample])
    assert bills["rates"] == [] and "no compute usage" in bills["note"]


def test_the_downloaded_review_is_the_clis(generated_bills, tmp_path):  # noqa: F811
    """The page's JSON and Markdown downloads are ``planner billing review``'s for the same
    files and options: the Markdown to the letter, the JSON to 1e-9 (sums in another order)."""
    import json

    from typer.testing import CliRunner

    from planner.cli.main import app

    paths = logic.data_files(generated_bills)
    for fmt in ("json", "markdown"):
        out = tmp_path / f"review.{fmt}"
        ran = CliRunner().invoke(app, ["billing", "review", str(generated_bills), "--format",
                                       fmt, "--group-by", "tag:team", "--month", "2026-09",
                                       "-q", "-o", str(out)])
        assert ran.exit_code == 0, ran.output
        name, text = logic.review_report(paths, fmt, month="2026-09", group_by="tag:team")
        assert name == f"billing-review-2026-09.{'md' if fmt == 'markdown' else 'json'}"
        if fmt == "markdown":
            assert text.strip() == out.read_text().strip()
        else:
            assert json.loads(text) == _approx(json.loads(out.read_text()))


def _approx(doc):
    """``doc`` with every float as ``pytest.approx`` (relative 1e-9)."""
    if isinstance(doc, dict):
        return {k: _approx(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_approx(v) for v in doc]
    return pytest.approx(doc, rel=1e-9, abs=1e-9) if isinstance(doc, float) else doc
