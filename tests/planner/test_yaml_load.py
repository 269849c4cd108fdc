"""Scenario YAML is read with bounded expansion, bounded nesting and no repeated keys.

Regression cases of issue 19: a 364-byte "billion laughs" file (nine aliases per level, nine
levels: 9**9 = 387 million values once expanded) cost the CLI minutes and gigabytes, 50,000
nested ``[`` ended in a RecursionError traceback, and a key written twice was silently taken
from its last line. Each must now be one clear message, fast, through ``planner run``.
"""

from __future__ import annotations

import string
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.errors import ScenarioError
from planner.cli.main import app
from planner.schema import load_scenario
from planner.schema_errors import shorten
from planner.yaml_load import CLI_LIMITS, UPLOAD_LIMITS, YamlLimits, load_yaml

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def laughs(levels: int, per: int = 9, indent: str = "") -> list[str]:
    """Return the lines of nested aliases: level 0 holds ``per`` scalars, each next level
    ``per`` aliases of the one before (``per ** levels`` values once expanded)."""
    names = string.ascii_lowercase
    lines = [f"{indent}a: &a [{','.join(['x'] * per)}]"]
    for i in range(1, levels):
        lines.append(f"{indent}{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * per)}]")
    return lines


def bomb(levels: int = 9) -> str:
    """A scenario whose description is the deepest alias (the CLI case of the issue)."""
    return "\n".join(["x:", *laughs(levels, indent="  "),
                      f"description: *{string.ascii_lowercase[levels - 1]}",
                      "name: x", "horizon_s: 1"]) + "\n"


def test_billion_laughs_is_refused_fast_and_small(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(bomb(9))
    assert len(path.read_bytes()) < 400  # the size of the file
    tracemalloc.start()
    began = time.perf_counter()
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    elapsed = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 20e6
    message = str(err.value)
    assert message.startswith(f"{path}: line ")
    assert f"more than {CLI_LIMITS.max_nodes:,} values once its aliases" in message


def test_the_cli_refuses_the_billion_laughs_with_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(bomb(9))
    began = time.perf_counter()
    out = runner.invoke(app, ["run", str(path), "-q"])
    assert time.perf_counter() - began < 5.0
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "values once its aliases (*name) are expanded" in out.output


def test_expansion_is_counted_exactly_at_the_limit() -> None:
    # 4 levels of 9: the root mapping holds 9**4 + 9**3 + 9**2 + 9 + 1... values; count them
    # by hand: a list of n items is n + 1 values, each key 1, the mapping 1.
    text = "\n".join(laughs(4)) + "\n"
    a = 9 + 1
    b = 9 * a + 1
    c = 9 * b + 1
    d = 9 * c + 1
    total = 1 + 4 + a + b + c + d  # the mapping, its 4 keys, its 4 values
    assert load_yaml(text, "f.yaml", YamlLimits(max_nodes=total, max_depth=8))["d"][8][8][8] \
        == ["x"] * 9
    with pytest.raises(ScenarioError, match=f"more than {total - 1:,} values"):
        load_yaml(text, "f.yaml", YamlLimits(max_nodes=total - 1, max_depth=8))


def test_deep_nesting_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 50_000)
    with pytest.raises(ScenarioError, match=r"deep.yaml: line 1, column 65: nesting deeper "
                                            r"than 64 levels"):
        load_scenario(path)
    out = runner.invoke(app, ["run", str(path), "-q"])
    assert out.exit_code == 1 and "nesting deeper than 64 levels" in out.output
    assert not isinstance(out.exception, RecursionError)
    nested = "v: " + "[" * 64 + "]" * 64 + "\n"  # 64 levels under the top mapping: 65 in all
    with pytest.raises(ScenarioError, match="nesting deeper"):
        load_yaml(nested, "f.yaml")
    assert load_yaml("v: " + "[" * 63 + "]" * 63 + "\n", "f.yaml")["v"] is not None


def test_duplicate_key_names_the_key_both_lines_and_the_file(tmp_path: Path) -> None:
    text = (REPO / "scenarios" / "bert-serving.yaml").read_text()
    assert "\nhorizon_s:" in text
    path = tmp_path / "twice.yaml"
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("horizon_s:"))
    lines.insert(first + 1, "horizon_s: 5")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (f"{path}: line {first + 2}, column 1: key 'horizon_s' is written "
                              f"twice in this mapping (first at line {first + 1}); keep one of "
                              "them")
    out = runner.invoke(app, ["run", str(path), "-q"])
    assert out.exit_code == 1 and "'horizon_s' is written twice" in out.output


def test_nested_duplicate_key_and_merges() -> None:
    with pytest.raises(ScenarioError, match=r"line 3, column 5: key 'nodes' is written twice "
                                            r"in this mapping \(first at line 2\)"):
        load_yaml("fleet:\n    nodes: 1\n    nodes: 2\n", "f.yaml")
    # keys a merge brings in may be overridden: that is what merges are for
    merged = load_yaml("base: &b {nodes: 1, purchase: spot}\nd: {<<: *b, nodes: 3}\n", "f.yaml")
    assert merged["d"] == {"nodes": 3, "purchase": "spot"}
    with pytest.raises(ScenarioError, match="key 'x' is written twice"):
        load_yaml("{x: 1, y: 2, x: 3}", "f.yaml")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"alias \*a refers to the value that holds it"):
        load_yaml("a: &a [1, *a]\n", "f.yaml")


def test_upload_limits_are_tighter_and_bundled_scenarios_fit_them() -> None:
    assert UPLOAD_LIMITS.max_nodes < CLI_LIMITS.max_nodes
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        assert isinstance(load_yaml(path.read_text(), path.name, UPLOAD_LIMITS), dict)


def test_values_in_messages_are_cut_to_80_characters(tmp_path: Path) -> None:
    # 7 levels of 5: 97,656 values, under the limit, quoted by a validator's message
    text = "\n".join(["x:", *laughs(7, per=5, indent="  "), "name: x", "horizon_s: 1",
                      "warmup_s: *g", "workloads: *g", "designs: *g"]) + "\n"
    path = tmp_path / "big.yaml"
    path.write_text(text)
    began = time.perf_counter()
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert time.perf_counter() - began < 5.0
    message = str(err.value)
    assert len(message) < 4000, message[:500]
    for line in message.splitlines()[1:]:
        if "(got " in line:
            got = line.split("(got ", 1)[1].split("); ", 1)[0]
            assert len(got) <= 80


def test_shorten_never_walks_a_large_value() -> None:
    big = [list(range(1000))] * 10_000  # ten million items
    began = time.perf_counter()
    text = shorten(big)
    assert time.perf_counter() - began < 0.05
    assert len(text) <= 80 and text.startswith("[[0, 1, 2")
    assert shorten("x" * 10) == "'xxxxxxxxxx'" and len(shorten("x" * 1000)) <= 80


def test_a_validator_quoting_a_large_value_is_cut_to_80_characters() -> None:
    """The schema's validators quote values with repr; an expanded alias made that message as
    large as the value (the issue's 390-byte CLI file). The rendered line keeps 80."""
    from typing import Any

    from pydantic import BaseModel, ValidationError, field_validator

    from planner.schema_errors import format_errors, problem

    class Model(BaseModel):
        x: Any

        @field_validator("x")
        @classmethod
        def _refuse(cls, value: Any) -> Any:
            raise problem(("", f"is not allowed (got {value!r}); remove it"))

    value = list(range(20_000))
    with pytest.raises(ValidationError) as err:
        Model(x=value)
    (line,) = format_errors(err.value, Model)
    assert line == f"x: is not allowed (got {repr(value)[:77]}...); remove it"
