"""Cost review and calibration logic, with a real AWS CUR sample when the shared data is here."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dashboards import billing_logic as logic
from dashboards import scenario_logic
from domain.errors import PlannerError

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


def test_upload_is_saved_privately_with_a_safe_name(settings):
    url = "data:text/csv;base64," + base64.b64encode(b"a,b\n1,2\n").decode()
    path = logic.save_upload(settings, url, "../../../etc/cron.d/evil name.csv")
    assert path.parent.parent == settings.upload_dir.resolve()
    assert path.name == "evil_name.csv" and path.read_bytes() == b"a,b\n1,2\n"
    assert logic.upload_files(settings, path.parent.name) == [path]
    assert logic.upload_files(settings, "../../etc") == []


def test_upload_size_limit(settings, monkeypatch):
    monkeypatch.setattr(logic, "BILLING_UPLOAD_LIMIT_BYTES", 10)
    url = "data:text/csv;base64," + base64.b64encode(b"x" * 11).decode()
    with pytest.raises(PlannerError, match="larger than"):
        logic.save_upload(settings, url, "big.csv")
    assert list(settings.upload_dir.iterdir()) == []


def test_review_of_a_real_cur_sample(cur_sample):
    review = logic.review_dict([cur_sample])
    assert review["month"] == "2023-11" and review["daily_by_group"]
    fig = logic.review_figure(review)
    assert fig.data and fig.layout.barmode == "stack"
    total = sum(p["effective_usd"] for p in review["daily_by_group"])
    assert total == pytest.approx(sum(trace.y[i] for trace in fig.data
                                      for i in range(len(trace.y))))
    service = logic.filter_options(logic.read([cur_sample]).frame)["services"][0]["value"]
    only = logic.review_dict([cur_sample], services=[service])
    assert only["current"]["effective_usd"] <= review["current"]["effective_usd"]


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


def test_gpu_rows_show_used_and_unused_and_add_up(tmp_path):
    """Issue 15 item 5 on the Cost review page: every GPU row's effective cost / GPU-hours is
    its effective $/GPU-hour, and used + unused commitment is the effective cost (the same rows
    as the CLI review's JSON)."""
    review = {"gpu": {"rates": [
        {"instance_type": "g5.xlarge", "purchase_option": "reserved", "gpu_model": "A10G",
         "gpu_hours": 436.3, "used_usd": 263.35, "unused_commitment_usd": 334.94,
         "effective_usd": 598.29, "used_usd_per_gpu_hour": 263.35 / 436.3,
         "effective_usd_per_gpu_hour": 598.29 / 436.3, "list_usd_per_gpu_hour": 1.006},
        {"instance_type": "p5.48xlarge", "purchase_option": "reserved", "gpu_model": "H100",
         "gpu_hours": None, "used_usd": 0.0, "unused_commitment_usd": 50.0,
         "effective_usd": 50.0, "used_usd_per_gpu_hour": None,
         "effective_usd_per_gpu_hour": None, "list_usd_per_gpu_hour": None}]}}
    first, second = logic.gpu_rows(review)
    money = [float(c.strip("$").replace(",", "")) for c in first[4:7]]
    assert money[0] + money[1] == pytest.approx(money[2])
    assert float(first[8].strip("$")) == pytest.approx(money[2] / float(first[3]), abs=5e-4)
    assert first[8] == "$1.3713" and first[7] == "$0.6036"
    assert second[3] == "n/a" and second[7] == second[8] == "n/a"  # no hours: no rate, not $0
