"""Every command behaves alike (issue 17): ``-q/--quiet`` everywhere, ``-o/--output`` always a
file, usage errors exit 2, help without internal names, RST markup or ``<bool>``, GCP named
wherever AWS is, ``--version`` and shell completion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from planner.cli.main import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
PROVIDER_SPECIFIC = ("--endpoint-url-", "--endpoint ")
"""Options that exist for one provider's API only (their help names that provider)."""


def _leaves() -> list[tuple[list[str], object]]:
    group = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        if hasattr(cmd, "list_commands"):
            ctx = typer.Context(cmd)
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])
        else:
            out.append((path, cmd))

    for name in COMMANDS:
        walk(group.real_command(name), [name])  # type: ignore[attr-defined]
    return out


LEAVES = _leaves()
IDS = [" ".join(path) for path, _ in LEAVES]


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_every_command_has_quiet_and_output_is_a_file(path, command):
    opts = {o: p for p in command.params for o in getattr(p, "opts", [])}
    names = {*opts, *(s for p in command.params for s in getattr(p, "secondary_opts", []))}
    assert "-q" in names and "--quiet" in names, path
    if "--output" in opts:
        param = opts["--output"]
        assert "-o" in param.opts, path
        info = param.type_descriptor.parameter_info  # typer's declared Path options
        assert info.dir_okay is False, (path, "--output is a file")


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_help_has_no_internal_names_rst_or_bool_metavars(path, command):
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "<bool>" not in text
    assert "``" not in text and not re.search(r":(func|class|mod|data):", text)
    assert not re.search(r"\b(RunResult|DesignResult|flat_metrics|BillingRead)\b", text)
    for line in re.split(r"(?<=[.;])\s", " ".join(text.split())):
        if "AWS" in line and not any(s in line for s in PROVIDER_SPECIFIC):
            assert "GCP" in line or "AWS Pricing API endpoint" in line, line


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=IDS)
def test_an_unknown_option_is_a_usage_error_everywhere(path, command):
    result = runner.invoke(app, [*path, "--no-such-option"])
    assert result.exit_code == 2, (path, result.output)


def test_a_bad_design_is_reported_against_design_not_fail_if():
    scenario = str(ROOT / "scenarios" / "bert-serving.yaml")
    result = runner.invoke(app, ["compare", scenario, "--design", "nope",
                                 "--fail-if", "p99_ms > 100"])
    assert result.exit_code == 2
    assert "--design" in result.output and "nope" in result.output
    assert "--fail-if" not in result.output


def test_version_and_completion():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and re.fullmatch(r"planner \S+\n", result.output)
    result = runner.invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0 and "_planner_completion" in result.output


def test_billing_option_mistakes_are_usage_errors(tmp_path):
    from tests.costmodels.billing.test_compact import FIXTURE  # any readable export

    for extra, option in ((["--group-by", "region"], "--group-by"),
                          (["--month", "2026-13"], "--month"),
                          (["--as-of", "yesterday"], "--as-of")):
        result = runner.invoke(app, ["billing", "review", str(FIXTURE), *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert option in result.output
    result = runner.invoke(app, ["billing", "rates", str(FIXTURE), "--month", "10/2026"])
    assert result.exit_code == 2 and "--month" in result.output
