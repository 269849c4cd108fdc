"""Fuzz the CLI's own entry with scenarios and billing files (issue 19, "Must hold").

Scenarios: a bundled scenario with one field replaced by an extreme or odd value (a huge or
negative number, NaN, a string, a list, a mapping, nothing), removed, or joined by an unknown
field, run through ``planner compare`` up to the point where simulating would start (the
simulation itself is replaced by a marker once the scenario's files are read: inputs are
loaded, nothing long runs).  Billing files: a FOCUS CSV or Parquet export with odd cells, run
through ``planner billing review``.

Every example must end with exit 0, 1 or 2 and no traceback, within the deadline; every refusal
names the field (scenarios: the top-level field the change was under, or the run estimate's
``--force``) or the file and row (billing).
"""

from __future__ import annotations

import functools
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import planner.cli.simulate as simulate_cli
from costmodels.price_cache import default_catalog
from planner.cli.main import app
from planner.inputs import load_scenario_inputs

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
runner = CliRunner()


class _WouldSimulate(Exception):
    """Raised where ``planner compare`` would start simulating: the input was accepted."""


@pytest.fixture(scope="module")
def workdir():
    """A folder whose ``data`` is the bundled scenarios' data (their relative paths resolve)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "data").symlink_to(SCENARIOS / "data")
        yield Path(folder)


@pytest.fixture(scope="module")
def no_simulation():
    """Replace the simulation by reading the scenario's inputs, then stopping."""
    catalog = default_catalog()

    def read_inputs_then_stop(scenario, **_: Any):
        load_scenario_inputs(scenario, catalog=catalog)
        raise _WouldSimulate

    saved = simulate_cli.run_scenario
    simulate_cli.run_scenario = read_inputs_then_stop
    yield
    simulate_cli.run_scenario = saved


@functools.cache
def _bundled(name: str) -> Any:
    return yaml.safe_load((SCENARIOS / name).read_text())


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a YAML tree (mapping keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


EXTREMES = [0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30, 1e12, 1e300, 1e308,
            -1e308, 5e-324, 1e-300, math.nan, math.inf, -math.inf, 0.5, "", " ", "x" * 5000,
            "1e12", "nan", "inf", "yes", "no", "null", "../../etc/passwd", "aws:", ":",
            "\u00e9\u2603", True, False, None, [], {}, [1, 2], {"a": 1}, [[[[]]]]]

ODD = st.one_of(st.sampled_from(EXTREMES),
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(min_value=-(2**70), max_value=2**70),
                st.text(max_size=12),
                st.lists(st.integers(-5, 5), max_size=3))

NAMES = sorted(p.name for p in SCENARIOS.glob("*.yaml"))


@st.composite
def mutated_scenarios(draw) -> tuple[str, tuple, dict]:
    name = draw(st.sampled_from(NAMES))
    data = yaml.safe_load(yaml.safe_dump(_bundled(name)))  # a fresh copy
    path = draw(st.sampled_from(_paths(data)))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(ODD)
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["unknown_" + str(path[-1])] = draw(ODD)
    else:
        parent.append(draw(ODD))
    return name, path, data


def _changed(name: str, path: tuple, value: Any) -> tuple[str, tuple, dict]:
    data = yaml.safe_load(yaml.safe_dump(_bundled(name)))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return name, path, data


@settings(max_examples=100, deadline=3000, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_scenarios())
# A grid step of 5e-324 made the point count infinite: OverflowError (a traceback) before the
# sweep's bounds.
@example(_changed("sweep-example.yaml",
                  ("sweep", "parameters", "fleet.nodes", "range", "step"), 5e-324))
@example(_changed("training-spot.yaml", ("designs", 1, "checkpoint", "cost_s"), 1e9))
@example(_changed("bert-serving.yaml", ("designs", 0, "fleet", "nodes"), 2**63 - 1))
def test_odd_scenarios_get_a_clear_refusal_or_are_accepted(workdir, no_simulation, case):
    name, path, data = case
    file = workdir / name
    file.write_text(yaml.safe_dump(data, allow_unicode=True))
    res = runner.invoke(app, ["compare", str(file), "-q"])
    where = f"{name} with {'.'.join(map(str, path))} changed:\n{res.output}"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        assert isinstance(res.exception, _WouldSimulate), where  # accepted, not a traceback
        return
    assert res.exit_code in (0, 1, 2), where
    assert "Traceback" not in res.output, where
    if res.exit_code == 1:
        top = str(path[0])
        assert top in res.output or "--force" in res.output or str(file) in res.output, where
        assert len(res.output) < 20_000, where  # values quoted in messages are cut


# ---------------------------------------------------------------------------------------------
# Billing files

FOCUS_COLUMNS = ("BillingAccountId", "ProviderName", "BilledCost", "EffectiveCost",
                 "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
                 "BillingPeriodEnd", "ServiceCategory", "ServiceSubcategory", "ServiceName",
                 "x_InstanceType", "x_UsageHours", "x_PurchaseOption")


def _good_row(i: int) -> list[str]:
    hour = f"2026-10-{1 + i % 28:02d}T{i % 24:02d}"
    return ["012345678901", "AWS", "1.25", "1.25", "Usage", f"{hour}:00:00Z",
            f"{hour}:59:00Z", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "Compute",
            "Virtual Machines", "EC2", "g5.xlarge", "1", "on_demand"]


ODD_CELLS = st.one_of(
    st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e309", "-1e308", "1e-400",
                     "99999999999999999999999999999", "-0", "abc", "1,5", '"', "\u00e9",
                     "2026-13-45T00:00:00Z", "2026-10-01", "0000-00-00", "9999-12-31T23:59:59Z",
                     "\x00", "\n", "x" * 3000, "Usage", "Purchase", "Credit", "GCP", "Tax"]),
    st.text(max_size=10))


@st.composite
def odd_billing(draw) -> tuple[list[str], list[list[str]]]:
    header = list(FOCUS_COLUMNS)
    rows = [_good_row(i) for i in range(draw(st.integers(1, 6)))]
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.sampled_from(rows))
        row[draw(st.integers(0, len(header) - 1))] = draw(ODD_CELLS)
    shape = draw(st.sampled_from(["keep", "keep", "short_row", "long_row", "drop_column"]))
    if shape == "short_row":
        rows[-1] = rows[-1][:draw(st.integers(0, len(header) - 1))]
    elif shape == "long_row":
        rows[0] = [*rows[0], "extra"]
    elif shape == "drop_column":
        gone = draw(st.integers(0, len(header) - 1))
        header = header[:gone] + header[gone + 1:]
        rows = [r[:gone] + r[gone + 1:] for r in rows]
    return header, rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _write_parquet(path: Path, header: list[str], rows: list[list[str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    width = len(header)
    columns = {name: [r[i] if i < len(r) else None for r in rows] for i, name in
               enumerate(header)}
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in
                      columns.items()}) if width else pa.table({})
    pq.write_table(table, path)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(odd_billing(), st.sampled_from(["csv", "parquet"]))
def test_odd_billing_files_get_a_clear_refusal_or_a_review(workdir, case, fmt):
    header, rows = case
    path = workdir / f"export.{fmt}"
    (_write_csv if fmt == "csv" else _write_parquet)(path, header, rows)
    res = runner.invoke(app, ["billing", "review", str(path), "-f", "json"])
    where = f"{fmt} {header} {rows}:\n{res.output}"
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"traceback: {res.exception!r} for {where}") from res.exception
    assert res.exit_code in (0, 1), where
    assert "Traceback" not in res.output, where
    if res.exit_code == 1:
        assert str(path) in res.output or "row" in res.output, where


def test_a_billing_period_in_december_9999_is_refused_naming_the_month(workdir):
    row = _good_row(0)
    row[FOCUS_COLUMNS.index("BillingPeriodStart")] = "9999-12-31T23:59:59Z"
    path = workdir / "export-9999.csv"
    _write_csv(path, list(FOCUS_COLUMNS), [row])
    res = runner.invoke(app, ["billing", "review", str(path), "-f", "json"])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 1
    assert "'9999-12' is outside the months" in res.output
    assert "check the billing period" in res.output
