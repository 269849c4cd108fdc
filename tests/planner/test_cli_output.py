"""``planner output RESULTS.json``: a saved results JSON renders exactly as ``planner run``,
``planner compare`` and ``planner adr`` print the same scenario and seed, without simulating; a
file that is not a results JSON of this version is an input error (exit 1) naming the file, the
field and the fix; options the format does not use are usage errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import app
from planner.results import SCHEMA_VERSION
from tests.planner.report_fixture import run_result

runner = CliRunner()
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SIM = ("--replications", "2", "--seed", "7", "--quiet")


def _ok(*args: str) -> str:
    out = runner.invoke(app, list(args))
    assert out.exit_code == 0, out.output
    return out.stdout


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    """The hand-built five-design run, saved as ``planner run -f json -o`` would."""
    path = tmp_path / "run.json"
    path.write_text(run_result().to_json() + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["bert-serving", "llm-chat", "training-spot"])
def test_output_of_a_saved_run_equals_what_run_compare_and_adr_print(tmp_path, name):
    scenario = str(SCENARIOS / f"{name}.yaml")
    saved = tmp_path / "run.json"
    _ok("run", scenario, *SIM, "--format", "json", "--output", str(saved))
    assert json.loads(saved.read_text())["schema_version"] == SCHEMA_VERSION

    assert _ok("output", str(saved)) == _ok("run", scenario, *SIM)  # table with details
    assert _ok("output", str(saved), "--no-details") == _ok("compare", scenario, *SIM)
    for fmt in ("markdown", "html"):
        assert _ok("output", str(saved), "-f", fmt) == _ok("compare", scenario, *SIM, "-f", fmt)

    direct, rendered = tmp_path / "direct.md", tmp_path / "rendered.md"
    adr_options = ("--title", "Pick a fleet", "--status", "accepted", "--date", "2026-08-01",
                   "--budget-usd-per-month", "50000")
    _ok("adr", scenario, *SIM, "--output", str(direct), *adr_options)
    _ok("output", str(saved), "-f", "adr", "-o", str(rendered), "-q", *adr_options)
    assert rendered.read_text() == direct.read_text()
    assert "status: accepted" in direct.read_text()
    # and the defaults agree too (status proposed, the catalog's date)
    _ok("adr", scenario, *SIM, "--output", str(direct), "--force")
    assert _ok("output", str(saved), "--format", "adr") == direct.read_text()


def test_the_table_is_the_detailed_one_and_differs_from_the_comparison(saved):
    detailed, brief = _ok("output", str(saved)), _ok("output", str(saved), "--no-details")
    assert detailed.startswith(brief.rstrip("\n")) and len(detailed) > len(brief)
    assert _ok("output", str(saved), "--details") == detailed


def test_output_file_and_quiet(saved, tmp_path):
    target = tmp_path / "report.md"
    out = runner.invoke(app, ["output", str(saved), "-f", "markdown", "-o", str(target)])
    assert out.exit_code == 0 and out.stdout == ""
    assert f"wrote {target}" in out.stderr
    assert target.read_text() == _ok("output", str(saved), "-f", "markdown")
    quiet = runner.invoke(app, ["output", str(saved), "-f", "markdown", "-o", str(target), "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_rendering_a_saved_file_imports_no_simulator(saved):
    probe = ("import json, sys\nfrom typer.testing import CliRunner\n"
             "from planner.cli.main import app\n"
             "res = CliRunner().invoke(app, sys.argv[1:])\n"
             "heavy = sorted(m for m in ('scipy', 'numba', 'simulators', 'planner.run', "
             "'planner.cli.simulate') if m in sys.modules)\n"
             "print(json.dumps({'exit': res.exit_code, 'heavy': heavy}))\n")
    for fmt in ("table", "adr"):
        done = subprocess.run([sys.executable, "-c", probe, "output", str(saved), "-f", fmt],
                              capture_output=True, text=True, check=True)
        assert json.loads(done.stdout.strip().splitlines()[-1]) == {"exit": 0, "heavy": []}


# --- input errors: exit 1 with one line naming the file, the field and the fix -------------


def _fails(*args: str, code: int = 1) -> str:
    out = runner.invoke(app, list(args))
    assert out.exit_code == code, out.output
    assert "Traceback" not in out.output and out.stdout == ""
    return " ".join(out.stderr.split())


def test_a_missing_file(tmp_path):
    missing = tmp_path / "gone.json"
    err = _fails("output", str(missing))
    assert f"error: {missing}: file not found; pass a results JSON" in err


def test_a_file_that_is_not_json(tmp_path):
    err = _fails("output", str(SCENARIOS / "bert-serving.yaml"))
    assert "bert-serving.yaml: not JSON" in err
    assert "planner run SCENARIO --format json -o FILE" in err


def test_a_billing_review_json_is_not_a_results_json(tmp_path):
    pytest.importorskip("costmodels.billing.readers")
    import datetime as dt

    from costmodels.billing.review import monthly_review
    from tests.costmodels.billing.test_review_data import UTC, generate_focus

    rows = generate_focus(400, seed=3, until=dt.datetime(2026, 10, 20, tzinfo=UTC))
    review = tmp_path / "review.json"
    review.write_text(json.dumps(monthly_review(rows.lazy()).to_dict(), default=str))
    err = _fails("output", str(review))
    assert f"{review}: not a results JSON of `planner run` or `planner compare`" in err
    assert "it is an object with the keys" in err
    assert "not an object with schema_version, designs, recommendation, scenario" in err


def test_a_newer_schema_version(saved):
    doc = json.loads(saved.read_text())
    doc["schema_version"] = SCHEMA_VERSION + 1
    saved.write_text(json.dumps(doc))
    err = _fails("output", str(saved), "-f", "markdown")
    assert f"{saved}: field `schema_version` is {SCHEMA_VERSION + 1}, newer than this planner " \
           f"reads ({SCHEMA_VERSION}); upgrade the planner" in err


def test_a_missing_and_a_mistyped_field(saved):
    doc = json.loads(saved.read_text())
    del doc["designs"][3]["cost"]["usd_per_month"]
    saved.write_text(json.dumps(doc))
    err = _fails("output", str(saved))
    assert f"{saved}: field `designs[3].cost.usd_per_month` is missing;" in err
    doc["designs"][3]["cost"]["usd_per_month"] = "[/cheap] 300"  # rich markup in a value
    saved.write_text(json.dumps(doc))
    err = _fails("output", str(saved), "-f", "adr")
    assert ("field `designs[3].cost.usd_per_month` should be a number or null, not a string "
            "('[/cheap] 300')") in err


def test_debug_shows_the_traceback(saved):
    saved.write_text("{}")
    out = runner.invoke(app, ["output", str(saved), "--debug"])
    assert out.exit_code == 1 and "not a results JSON" in str(out.exception)


# --- usage errors: exit 2 --------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (("-f", "json"), "'json' is not one of"),
    (("--title", "T"), "applies to --format adr only, not table"),
    (("-f", "html", "--date", "2026-08-01"), "applies to --format adr only, not html"),
    (("-f", "markdown", "--no-details"), "applies to --format table only, not markdown"),
    (("-f", "adr", "--date", "2026-13-01"), "is not a date; write YYYY-MM-DD"),
    (("-f", "adr", "--status", " "), "must not be empty"),
])
def test_usage_errors_exit_2(saved, args, message):
    out = runner.invoke(app, ["output", str(saved), *args])
    assert out.exit_code == 2, out.output
    assert message in " ".join(out.stderr.replace("│", " ").split())


def test_writing_over_the_results_file_is_refused(saved):
    before = saved.read_text()
    out = runner.invoke(app, ["output", str(saved), "-o", str(saved)])
    assert out.exit_code == 2 and "would replace the results JSON" in " ".join(
        out.stderr.replace("│", " ").split())
    assert saved.read_text() == before


def test_no_file_is_a_usage_error():
    assert runner.invoke(app, ["output"]).exit_code == 2
