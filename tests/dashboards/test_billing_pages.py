"""Cost review and calibration logic, with a real AWS CUR sample when the shared data is here."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from dashboards import billing_logic as logic
from dashboards import scenario_logic
from planner.errors import PlannerError

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
    review = {"gpu": {"rates": [{"instance_type": "g5.xlarge", "purchase_option": "on_demand",
                                 "usage_hours": 10.0, "effective_usd": 7.0}]}}
    rows = {r["design"]: r for r in logic.calibration_rows(view.result, review)}
    small, big = rows["small"], rows["big"]
    assert small["bill_usd_per_node_hour"] == pytest.approx(0.7)
    cost = view.result.design("small").cost
    scale = cost.usd_per_month / cost.total_usd
    assert small["bill_usd_per_month"] == pytest.approx(0.7 * hours["small"] * scale)
    assert big["bill_usd_per_node_hour"] is None and big["difference_usd_per_month"] is None
