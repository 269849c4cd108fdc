"""The house rules that keep the code navigable: layers point one way, one registry of patterns.

Read from the source with ``ast`` (nothing imported but the registry and the schema), so a new
import that breaks a layer fails here with the file and line.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "simulators", "costmodels", "planner", "dashboards")
ALLOWED = {
    "domain": {"domain"},
    "simulators": {"domain", "simulators"},
    "costmodels": {"domain", "costmodels"},
    "planner": {"domain", "simulators", "costmodels", "planner"},
    "dashboards": {"domain", "simulators", "costmodels", "planner", "dashboards"},
}
"""Which project packages each package may import (each layer only those below it)."""
OUTERMOST = "planner/cli/"
"""The command line is the outermost layer: it may start anything (``planner dashboard``)."""


def _project_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
    return [(line, top) for line, top in out if top in PACKAGES]


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_point_one_way(package: str):
    bad = [f"{path.relative_to(ROOT)}:{line} imports {top}"
           for path in sorted((ROOT / package).rglob("*.py"))
           for line, top in _project_imports(path) if top not in ALLOWED[package]
           and not str(path.relative_to(ROOT)).startswith(OUTERMOST)]
    assert not bad, f"{package} may import only {sorted(ALLOWED[package])}:\n" + "\n".join(bad)


def test_simulators_read_no_files():
    """File reading belongs to the input layer (planner/inputs*): simulators take arrays."""
    readers = ("read_csv", "scan_csv", "read_parquet", "read_text", "read_bytes", "open(")
    bad = [f"{path.relative_to(ROOT)}: {word}"
           for path in sorted((ROOT / "simulators").rglob("*.py"))
           for word in readers if word in path.read_text()
           and path.name != "jit.py"]  # jit.py hashes the kernels' sources for its cache key
    assert not bad, "\n".join(bad)


def test_every_schema_pattern_is_registered():
    from planner import schema
    from planner.patterns import PATTERNS

    union = typing.get_args(typing.get_args(schema.Design)[0]) if typing.get_origin(
        schema.Design) is typing.Annotated else typing.get_args(schema.Design)
    names = {typing.get_args(cls.model_fields["pattern"].annotation)[0] for cls in union}
    assert names == set(PATTERNS)
    for name, pattern in PATTERNS.items():
        assert pattern.name == name
        assert pattern.metric in ("latency", "freshness", "completion_time")
