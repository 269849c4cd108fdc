"""The root command imports its command modules lazily: help lists every command from its
one-line help without importing the simulators, and a billing command imports none of them."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import typer.main

from planner.cli.main import COMMANDS, app

PROBE = """
import json, sys
from typer.testing import CliRunner
from planner.cli.main import app
res = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted(m for m in ("scipy", "numba", "simulators", "planner.run", "dash", "polars")
               if m in sys.modules)
print(json.dumps({"exit": res.exit_code, "heavy": heavy}))
"""


def _probe(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_lists_every_command_and_imports_nothing_heavy():
    got = _probe("--help")
    assert got == {"exit": 0, "heavy": []}


def test_a_billing_command_imports_no_simulator():
    got = _probe("billing", "review", "--help")
    assert got["exit"] == 0
    assert not {"scipy", "numba", "simulators", "planner.run"} & set(got["heavy"])


def test_every_listed_command_loads_with_the_help_line_it_lists():
    group = typer.main.get_command(app)
    ctx = click.Context(group)
    assert group.list_commands(ctx) == list(COMMANDS)
    for name, (_, short) in COMMANDS.items():
        real = group.real_command(name)  # type: ignore[attr-defined]
        assert real.name == name
        assert " ".join(real.get_short_help_str(limit=500).split()) == short
