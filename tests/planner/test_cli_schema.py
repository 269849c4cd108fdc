"""``planner schema``: lists the schemas, prints the shipped files, refuses unknown names, fast."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from planner.cli.main import COMMANDS, app
from planner.json_schemas import SCHEMAS, shipped_text

runner = CliRunner()

PROBE = """
import json, sys
from typer.testing import CliRunner
from planner.cli.main import app
res = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted(m for m in ("scipy", "numba", "numpy", "simulators", "polars", "yaml", "dash",
                           "planner.run", "planner.schema", "planner.json_schema_results")
               if m in sys.modules)
print(json.dumps({"exit": res.exit_code, "heavy": heavy}))
"""


@pytest.mark.parametrize("args", [["schema"], ["schema", "--list"], ["schema", "-l"]])
def test_without_a_name_it_lists_every_schema_one_a_line(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(SCHEMAS)
    for line, doc in zip(lines, SCHEMAS.values(), strict=True):
        assert line.endswith(doc.summary)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_it_prints_the_shipped_file(name):
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 0, result.output
    assert result.stdout == shipped_text(name)
    assert json.loads(result.stdout)["$schema"].endswith("/draft/2020-12/schema")


def test_output_writes_the_file(tmp_path):
    out = tmp_path / "scenario.schema.json"
    result = runner.invoke(app, ["schema", "scenario", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == shipped_text("scenario")


@pytest.mark.parametrize(("name", "hint"), [("result", "did you mean 'results'?"),
                                           ("billing-reviews", "did you mean 'billing-review'?"),
                                           ("scenarios", "did you mean 'scenario'?"),
                                           ("zzz", "choose one of scenario, results")])
def test_an_unknown_name_is_a_usage_error_with_the_closest_name(name, hint):
    result = runner.invoke(app, ["schema", name])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert f"'{name}' is not a schema" in text and hint in text


def test_its_help_line_is_the_one_the_root_lists():
    result = runner.invoke(app, ["schema", "--help"])
    assert result.exit_code == 0
    flat = " ".join(result.output.replace("│", " ").split())
    assert COMMANDS["schema"][1] in flat
    assert "yaml-language-server" in flat


@pytest.mark.parametrize("args", [["schema", "results"], ["schema", "--list"]])
def test_it_imports_neither_the_models_nor_the_simulators(args):
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"exit": 0, "heavy": []}
