"""Tables fit the terminal and never cut a value (issue 17).

At ``COLUMNS=100`` and ``200`` every table line of ``planner compare`` and ``planner prices
list`` is at most that wide (prose is left to the terminal to wrap), no cell ends in an ellipsis, and every value the results JSON gives (design
names, monthly costs, unit costs, instance names a user must type) is printed whole; ``--wide``
prints one table with every column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.reports.sections import fmt_unit

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "scenarios" / "bert-serving.yaml")
runner = CliRunner()


def _invoke(args: list[str], columns: int) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def _tokens(text: str) -> set[str]:
    return {t.strip("│┃") for t in text.split()}


@pytest.fixture(scope="module")
def results() -> dict:
    text = _invoke(["compare", SCENARIO, "-r", "2", "--seed", "3", "-q", "-f", "json"], 200)
    return json.loads(text)


@pytest.mark.parametrize("columns", [100, 200])
def test_compare_fits_the_terminal_and_shows_every_value_whole(results, columns):
    text = _invoke(["compare", SCENARIO, "-r", "2", "--seed", "3", "-q"], columns)
    lines = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]  # the tables
    assert max(len(line) for line in lines) <= columns
    assert "…" not in text
    tokens = _tokens(text)
    for d in results["designs"]:
        assert d["name"] in tokens
        month = f"${d['cost']['usd_per_month']:,.0f}/month"
        assert month in tokens, (month, columns)
        unit = fmt_unit(d["cost"]["usd_per_1k_requests"])
        assert any(t.startswith(unit) for t in tokens), (unit, columns)
        busy = fmt_unit(d["cost"]["usd_per_1k_requests_busy"])
        assert busy in tokens, (busy, columns)
    for header in ("design", "fleet", "p99", "SLO", "util", "cost", "unit", "busy"):
        assert header in tokens


def test_narrow_terminals_stack_the_columns_and_wide_keeps_one_table(results):
    narrow = _invoke(["compare", SCENARIO, "-r", "2", "--seed", "3", "-q"], 100)
    wide = _invoke(["compare", SCENARIO, "-r", "2", "--seed", "3", "-q", "--wide"], 100)
    assert narrow.count("┃ design") > 1  # the design column repeated in each stacked table
    assert wide.count("┃ design") == 1
    header = next(line for line in wide.splitlines() if "┃ design" in line)
    assert len(header) > 100 and "busy basis" in header


@pytest.mark.parametrize("columns", [100, 200])
def test_prices_list_shows_every_instance_name_whole(columns):
    doc = json.loads(_invoke(["prices", "list", "--format", "json"], columns))
    text = _invoke(["prices", "list"], columns)
    tables = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in tables) <= columns
    assert "…" not in text
    tokens = _tokens(text)
    for row in doc["rows"]:
        assert row["instance_type"] in tokens
        assert row["provider"] in tokens
