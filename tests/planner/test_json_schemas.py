"""The shipped JSON Schemas: generated from the models, package data, and true to the documents.

Every command that writes JSON runs here on bundled or generated inputs (few replications,
small files) and its output validates against the shipped schema; documents with a required
field removed, a wrong type, another version or kind do not.  Every bundled scenario validates
against the scenario schema.
"""

from __future__ import annotations

import copy
import datetime as dt
import glob
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from planner.cli.main import app
from planner.json_schemas import REGENERATE, SCHEMA_DIR, SCHEMAS, generate, render, shipped_text

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(glob.glob(str(ROOT / "scenarios" / "*.yaml")))
RUN = ROOT / "scenarios" / "data" / "llm-runs" / "vllm-rtxpro6000-llama-3.1-8b"
PROFILE = ROOT / "scenarios" / "data" / "h100_llm_token_latency.csv"
runner = CliRunner()


def validator(name: str) -> Draft202012Validator:
    """The validator of the shipped schema ``name`` (formats checked)."""
    return Draft202012Validator(json.loads(shipped_text(name)), format_checker=FormatChecker())


def problems(name: str, doc: Any) -> list[str]:
    """Every validation error of ``doc`` against schema ``name``, as path: message."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator(name).iter_errors(doc)]


def cli_json(*args: str) -> dict[str, Any]:
    """Run ``planner ARGS`` and return its stdout as JSON."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def rejects(name: str, doc: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    """Assert that ``doc`` changed by ``change`` (in place, on a copy) is invalid."""
    bad = copy.deepcopy(doc)
    change(bad)
    assert problems(name, bad), f"{name}: the changed document still validates"


def rejects_wrong_head(name: str, doc: dict[str, Any]) -> None:
    """A document of another version or kind, or with a key the schema does not know, fails."""
    rejects(name, doc, lambda d: d.update(schema_version=d["schema_version"] + 1))
    if "kind" in doc:
        rejects(name, doc, lambda d: d.update(kind="something-else"))
    rejects(name, doc, lambda d: d.update(unexpected_key=1))
    rejects(name, doc, lambda d: d.pop("schema_version"))


# ------------------------------------------------------------------------- shipped files

@pytest.mark.parametrize("name", list(SCHEMAS))
def test_the_shipped_file_is_what_the_generator_gives(name):
    shipped = (SCHEMA_DIR / SCHEMAS[name].file).read_text(encoding="utf-8")
    assert shipped == render(generate(name)), (
        f"planner/schemas/{SCHEMAS[name].file} is stale: a model or an output changed; "
        f"regenerate it with '{REGENERATE}' and commit the file")


def test_every_shipped_file_is_a_draft_2020_12_schema_and_none_is_stray():
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(
        doc.file for doc in SCHEMAS.values())
    for name in SCHEMAS:
        schema = json.loads(shipped_text(name))
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert REGENERATE in schema["$comment"]


def test_the_schemas_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    assert any(p.startswith("planner") for p in setuptools["packages"]["find"]["include"])
    patterns = setuptools["package-data"]["planner"]
    for doc in SCHEMAS.values():
        assert any(Path("schemas", doc.file).match(p) for p in patterns), doc.file
    assert "jsonschema" in " ".join(config["project"]["optional-dependencies"]["test"])


# ----------------------------------------------------------------------------- scenarios

def _yaml(path: str | Path) -> Any:
    """Load YAML as an editor's language server sees it (dates stay text)."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value.isoformat() if isinstance(value, dt.date) else value
    with open(path, encoding="utf-8") as fh:
        return plain(yaml.safe_load(fh))


@pytest.mark.parametrize("path", SCENARIOS, ids=[Path(p).stem for p in SCENARIOS])
def test_every_bundled_scenario_validates(path):
    assert problems("scenario", _yaml(path)) == []


SHORTHANDS = {
    "name": "shorthands", "horizon_s": 600, "warmup_s": 60,
    "workloads": [{"name": "w", "kind": "inference",
                   "arrivals": {"kind": "poisson", "rate_rps": 10},
                   "slo": {"percentile": 99, "latency_s": 0.5}}],
    "designs": [{"name": "d", "workload": "w", "pattern": "realtime",
                 "fleet": {"instance": "aws:g5.xlarge", "nodes": 2},
                 "batching": {"max_batch": 4, "max_wait_ms": 2},
                 "service_time": {"kind": "constant", "ms": 5}}],
    "sweep": {"design": "d", "mode": "random", "samples": 3,
              "parameters": {"fleet.nodes": [1, 2],
                             "batching.max_wait_ms": {"range": {"low": 1, "high": 5}}}},
}


def test_the_shorthands_the_loader_accepts_validate():
    from planner.schema import parse_scenario

    parse_scenario(copy.deepcopy(SHORTHANDS))  # the loader reads them
    assert problems("scenario", SHORTHANDS) == []


@pytest.mark.parametrize("change", [
    lambda d: d.pop("horizon_s"),
    lambda d: d.update(horizon_s="ten minutes"),
    lambda d: d.update(replications=True),
    lambda d: d.update(designs=[]),
    lambda d: d.update(source_path="x.yaml"),
    lambda d: d.update(colour="blue"),
    lambda d: d["workloads"][0]["slo"].update(latency_ms=500),
    lambda d: d["workloads"][0].update(slo={"percentile": 99}),
    lambda d: d["designs"][0].update(pattern="serverless"),
    lambda d: d["designs"][0]["fleet"].pop("instance"),
    lambda d: d["sweep"]["parameters"].update({"fleet.nodes": []}),
], ids=["missing horizon", "text horizon", "bool replications", "no designs", "source_path",
        "unknown key", "latency_s and latency_ms", "slo without bound", "unknown pattern",
        "fleet without instance", "empty values"])
def test_a_wrong_scenario_fails_and_the_loader_refuses_it_too(change, tmp_path):
    from domain.errors import ScenarioError
    from planner.schema import load_scenario

    bad = copy.deepcopy(SHORTHANDS)
    change(bad)
    assert problems("scenario", bad)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ScenarioError):
        load_scenario(path)


# ------------------------------------------------------------------------------- results

RESULTS_RUNS = {
    "fraud-scoring": "run",  # realtime, streaming and batch
    "llm-chat": "run",  # llm engines, several SLO bounds, unjudged bounds
    "training-spot": "run",  # training, spot, a commitment priced for its term
    "fleet-mix": "compare",  # autoscaling, spot advisor
}


@pytest.fixture(scope="module")
def results_doc() -> dict[str, Any]:
    return cli_json("run", str(ROOT / "scenarios" / "bert-serving.yaml"), "--format", "json",
                    "-r", "2", "-q")


@pytest.mark.parametrize("scenario", list(RESULTS_RUNS))
def test_run_and_compare_json_validate(scenario):
    doc = cli_json(RESULTS_RUNS[scenario], str(ROOT / "scenarios" / f"{scenario}.yaml"), "--format", "json",
                   "-r", "2", "-q")
    assert problems("results", doc) == []


def test_results_with_commitments_discounts_and_an_unknown_price_validate(tmp_path):
    data = copy.deepcopy(SHORTHANDS)
    del data["sweep"]
    data["horizon_s"] = 3600
    data["replications"] = 2
    data["designs"].append({**data["designs"][0], "name": "no-price",
                            "fleet": {"instance": "aws:g5.xlarge", "nodes": 1,
                                      "purchase": "spot",  # g5.xlarge has no spot price
                                      "spot": {"interruptions": {"kind": "rate",
                                                                 "per_node_hour": 0.01}}}})
    data["pricing"] = {"negotiated_discounts": {"aws": 10}, "commitments": [
        {"instance": "aws:g5.xlarge", "kind": "reserved", "term": "1yr", "nodes": 1}]}
    path = tmp_path / "priced.yaml"
    path.write_text(yaml.safe_dump(data))
    doc = cli_json("compare", str(path), "--format", "json", "-q")
    costs = {d["name"]: d["cost"] for d in doc["designs"]}
    assert costs["d"]["commitment"]["covered_node_hours"] > 0
    assert costs["no-price"]["incomplete"] or costs["no-price"]["usd_per_month"] is None
    assert problems("results", doc) == []


def test_a_wrong_results_json_fails(results_doc):
    from planner.results import SCHEMA_VERSION

    assert results_doc["schema_version"] == SCHEMA_VERSION
    rejects_wrong_head("results", results_doc)
    rejects("results", results_doc, lambda d: d["designs"][0]["cost"].pop("usd_per_month"))
    rejects("results", results_doc, lambda d: d["designs"][0]["fleet"].update(nodes="2"))
    rejects("results", results_doc, lambda d: d["designs"][0]["latency_ms"].update(p99="fast"))
    rejects("results", results_doc, lambda d: d["designs"][0].update(
        warnings=[{"code": "not_a_code", "message": "x"}]))
    rejects("results", results_doc, lambda d: d["designs"][0].update(
        batching={"max_batch": 4}))
    rejects("results", results_doc, lambda d: d["recommendation"].update(
        usd_per_month_ci95=[1.0]))
    rejects("results", results_doc, lambda d: d["assumptions"].pop("price_catalog"))


# ---------------------------------------------------------------------------------- diff

def test_diff_json_validates_for_every_design_status_and_input(results_doc, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(results_doc))
    head_doc = copy.deepcopy(results_doc)
    head_doc["designs"][0]["name"] += "-renamed"  # one added, one removed
    head = tmp_path / "head.json"
    head.write_text(json.dumps(head_doc))
    doc = cli_json("diff", str(base), str(head), "--format", "json", "-q")
    statuses = {d["status"] for d in doc["designs"]}
    assert {"added", "removed"} <= statuses
    assert problems("diff", doc) == []
    # a scenario simulated for the diff, with another seed: changed figures
    doc = cli_json("diff", str(base), str(ROOT / "scenarios" / "bert-serving.yaml"), "-r", "2",
                   "--seed", "1", "--format", "json", "-q")
    assert doc["head"]["input"] == "scenario" and "changed" in {d["status"]
                                                                for d in doc["designs"]}
    assert problems("diff", doc) == []
    rejects_wrong_head("diff", doc)
    rejects("diff", doc, lambda d: d["designs"][0].update(status="different"))
    rejects("diff", doc, lambda d: d["designs"][0]["metrics"]["usd_per_month"].pop("change"))
    rejects("diff", doc, lambda d: d["summary"]["usd_per_month"].update(left_out="none"))


# --------------------------------------------------------------------------------- sweep

SWEEP = {
    "name": "schema-sweep", "horizon_s": 120, "warmup_s": 10, "replications": 2, "seed": 5,
    "workloads": [{"name": "w", "kind": "inference",
                   "arrivals": {"kind": "poisson", "rate_rps": 50},
                   "slo": {"percentile": 99, "latency_ms": 200}}],
    "designs": [{"name": "base", "workload": "w", "pattern": "realtime",
                 "fleet": {"instance": "aws:g5.8xlarge", "region": "us-east-1", "nodes": 2,
                           "max_nodes": 4, "purchase": "spot",
                           "spot": {"interruptions": {"kind": "rate", "per_node_hour": 0.05}}},
                 "batching": {"max_batch": 4, "max_wait_ms": 2},
                 "service_time": {"kind": "constant", "ms": 8}}],
    "sweep": {"design": "base",
              "parameters": {"fleet.nodes": [1, 2],
                             "batching.max_wait_ms": [2, -1],  # -1: skipped points
                             "fleet.workers_per_node": [1, 2]},  # 2 on one GPU: failed points
              "constraints": {"slo": True, "budget_usd_per_month": 50000}},
}


@pytest.fixture(scope="module")
def sweep_doc(tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sweep")
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(SWEEP))
    return cli_json("sweep", str(path), "-w", "0", "--output-dir", str(folder / "out"),
                    "--format", "json", "-q")


def test_sweep_json_validates_with_every_status_and_the_sensitivity(sweep_doc):
    assert {p["status"] for p in sweep_doc["points"]} == {"ok", "skipped", "error"}
    assert sweep_doc["cheapest_feasible"] is not None
    assert len(sweep_doc["sensitivity"]) == 4  # arrival rate and spot interruptions
    assert problems("sweep", sweep_doc) == []
    assert problems("scenario", SWEEP) == []


def test_a_wrong_sweep_json_fails(sweep_doc):
    rejects_wrong_head("sweep", sweep_doc)
    rejects("sweep", sweep_doc, lambda d: d["counts"].pop("feasible"))
    rejects("sweep", sweep_doc, lambda d: d["points"][0].update(status="done"))
    rejects("sweep", sweep_doc, lambda d: d["points"][0].update(index="0"))
    rejects("sweep", sweep_doc, lambda d: d["constraints"].update(slo="yes"))


# ------------------------------------------------------------------------------- billing

@pytest.fixture(scope="module")
def focus_file(tmp_path_factory) -> str:
    pytest.importorskip("costmodels.billing.readers")
    from tests.costmodels.billing.test_review_data import UTC, generate_focus

    folder = tmp_path_factory.mktemp("focus")
    df = generate_focus(3_000, seed=21, until=dt.datetime(2026, 10, 20, tzinfo=UTC))
    path = folder / "focus.parquet"
    df.drop("x_SourceFile", "x_SourceRow").write_parquet(path)
    return str(path)


CUR = str(ROOT / "tests" / "costmodels" / "billing" / "data" / "aws_commitments_cur.csv.gz")


@pytest.mark.parametrize("args", [
    ("--as-of", "2026-10-21"),  # a month in progress: forecast, freshness lag
    ("--month", "2026-08", "--group-by", "tag:team"),  # no previous month
])
def test_billing_review_json_validates(focus_file, args):
    doc = cli_json("billing", "review", focus_file, "--format", "json", *args)
    assert doc["kind"] == "billing-review"
    assert problems("billing-review", doc) == []


def test_billing_review_and_rates_of_a_cur_with_commitments_validate():
    review = cli_json("billing", "review", CUR, "--format", "json")
    assert review["commitments"] is not None
    assert problems("billing-review", review) == []
    rates = cli_json("billing", "rates", CUR, "--format", "json")
    assert problems("billing-rates", rates) == []


def test_billing_rates_json_validates_and_a_wrong_one_fails(focus_file):
    doc = cli_json("billing", "rates", focus_file, "--format", "json")
    assert doc["kind"] == "billing-rates" and doc["rows"]
    assert problems("billing-rates", doc) == []
    rejects_wrong_head("billing-rates", doc)
    rejects("billing-rates", doc, lambda d: d["rows"][0].pop("usage_hours"))
    rejects("billing-rates", doc, lambda d: d["rows"][0].update(purchase_option="lease"))
    rejects("billing-rates", doc, lambda d: d.update(billing_period="October"))


def test_a_wrong_billing_review_fails(focus_file):
    doc = cli_json("billing", "review", focus_file, "--format", "json", "--as-of", "2026-10-21")
    rejects_wrong_head("billing-review", doc)
    rejects("billing-review", doc, lambda d: d["current"].pop("billed_usd"))
    rejects("billing-review", doc, lambda d: d["current"].update(n_rows=1.5))
    rejects("billing-review", doc, lambda d: d["daily"][0].update(day="yesterday"))
    rejects("billing-review", doc, lambda d: d.pop("notes"))


# -------------------------------------------------------------------------------- prices

def test_prices_json_validates_and_a_wrong_one_fails():
    for args in ((), ("--gpu", "H100", "--sort", "gpu_price"), ("--provider", "gcp")):
        doc = cli_json("prices", "list", "--snapshot", "--format", "json", *args)
        assert doc["kind"] == "prices" and doc["rows"]
        assert problems("prices", doc) == []
    rejects_wrong_head("prices", doc)
    rejects("prices", doc, lambda d: d["rows"][0].update(on_demand_usd_per_hour="$1"))
    rejects("prices", doc, lambda d: d["rows"][0].pop("region"))
    rejects("prices", doc, lambda d: d["rows"][0].update(provider=None))


# ----------------------------------------------------------------------------------- llm

def test_llm_latency_json_validates_and_a_wrong_one_fails():
    for args in (("--phase", "decode", "--batch", "8", "--context", "100"),
                 ("--phase", "prefill", "--tokens", "512", "--tp", "2", "--dtype", "fp8")):
        doc = cli_json("llm", "latency", "-m", "llama-3.1-8b", "-g", "H100", *args,
                       "--format", "json")
        assert problems("llm-latency", doc) == []
    rejects_wrong_head("llm-latency", doc)
    rejects("llm-latency", doc, lambda d: d["breakdown_ms"].pop("gemm"))
    rejects("llm-latency", doc, lambda d: d.update(phase="both"))


def test_latency_fit_files_validate(tmp_path):
    out = tmp_path / "fit.json"
    printed = cli_json("llm", "fit", str(PROFILE), "--out", str(out), "--format", "json")
    written = json.loads(out.read_text())
    bundled = json.loads((ROOT / "simulators" / "core" / "data" / "latency_fit.json").read_text())
    for doc in (printed, written, bundled):
        assert problems("latency-fit", doc) == []
    assert written["kind"] == "latency-fit"
    rejects_wrong_head("latency-fit", written)
    rejects("latency-fit", written, lambda d: d["fit"].pop("gemm_efficiency"))
    rejects("latency-fit", written, lambda d: d.pop("errors"))


@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> Path:
    """The bundled engine run cut to its first 20 requests (a replay in seconds)."""
    folder = tmp_path_factory.mktemp("run")
    (folder / "meta.json").write_text((RUN / "meta.json").read_text())
    lines = (RUN / "requests.jsonl").read_text().splitlines()[:20]
    (folder / "requests.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_llm_replay_json_validates_with_and_without_a_fit(short_run, tmp_path, monkeypatch):
    import planner.llm_replay as replay_module

    doc = cli_json("llm", "replay", str(short_run), "--gpu", "RTX PRO 6000", "--format", "json")
    assert problems("llm-replay", doc) == []
    rejects_wrong_head("llm-replay", doc)
    rejects("llm-replay", doc, lambda d: d["measured"]["ttft_ms"].pop("p99"))
    rejects("llm-replay", doc, lambda d: d.update(requests="20"))

    def quick_fit(run, model, gpu_key, fit, *, host_overhead_ms):
        # the calibration's layout without its few dozen replays: the replay before = after
        once = replay_module.replay_engine_run(run, model, gpu_key, fit,
                                               host_overhead_ms=host_overhead_ms)
        return replay_module.EngineFit(fit, host_overhead_ms, once, once)

    monkeypatch.setattr(replay_module, "fit_engine_run", quick_fit)
    out = tmp_path / "calibrated.json"
    doc = cli_json("llm", "replay", str(short_run), "--gpu", "RTX PRO 6000", "--fit", str(out),
                   "-q", "--format", "json")
    assert doc["wrote"] == str(out) and "before_fit" in doc
    assert problems("llm-replay", doc) == []
    written = json.loads(out.read_text())
    assert problems("latency-fit", written) == []
    rejects("latency-fit", written, lambda d: d.pop("error_pct_after"))


def test_every_schema_is_exercised_here():
    """A new schema needs a test that runs its command and validates the output."""
    source = Path(__file__).read_text()
    missing = [name for name in SCHEMAS if f'"{name}"' not in source]
    assert not missing, f"no test validates a real {missing} document"


def test_calibrate_json_validates(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "name: tiny\nhorizon_s: 10\nreplications: 2\nworkloads:\n  - {name: w, kind: inference, "
        "arrivals: {kind: poisson, rate_rps: 100}}\ndesigns:\n  - {name: d, workload: w, "
        "pattern: realtime, fleet: {instance: 'aws:p5.4xlarge', nodes: 1}, service_time: "
        "{kind: constant, ms: 2}}\n")
    rows = "".join(f"{i / 200:.4f},{2.5 + (i % 7) / 10:.2f}\n" for i in range(400))
    (tmp_path / "t.csv").write_text("arrival_s,latency_ms\n" + rows)
    doc = cli_json("calibrate", str(tmp_path / "s.yaml"), str(tmp_path / "t.csv"), "-d", "d",
                   "-q", "--format", "json")
    assert problems("calibration", doc) == []
    rejects_wrong_head("calibration", doc)
    rejects("calibration", doc, lambda d: d["tests"][0]["measured_ms"].pop("p99"))
    rejects("calibration", doc, lambda d: d["fit"]["scale"].update(ci95=[1.0]))
