"""A percentile beyond the latency histogram's last bucket is flagged, not reported as exact
(issue 19: ``base_ms: 1e9`` gave p50 = p99 = the 2^24 s ceiling as if measured)."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from planner.cli.main import app
from planner.results import RunResult

runner = CliRunner()
CEILING_MS = 2.0**24 * 1000.0


def _scenario(service_ms: float) -> dict:
    # One worker, one request per batch, 1 request/s for 600 s: the k-th request waits for the
    # k - 1 before it, so its latency is about k x service time. At 1e9 ms (1e6 s) only the
    # first 16 requests finish within 2^24 s (16.8e6 s): p50 (rank ~300) is far beyond it.
    return {"name": "slow", "horizon_s": 600, "replications": 2,
            "workloads": [{"name": "w", "kind": "inference",
                           "arrivals": {"kind": "poisson", "rate_rps": 1},
                           "slo": {"percentile": 99, "latency_ms": 100}}],
            "designs": [{"name": "slow", "workload": "w", "pattern": "realtime",
                         "fleet": {"instance": "aws:p5.4xlarge", "nodes": 1},
                         "batching": {"max_batch": 1},
                         "service_time": {"kind": "linear", "base_ms": service_ms,
                                          "per_item_ms": 0}}]}


def _run(tmp_path, service_ms: float) -> dict:
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(_scenario(service_ms)))
    res = runner.invoke(app, ["compare", str(path), "-q", "-f", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_percentiles_at_the_histogram_ceiling_are_flagged_as_lower_bounds(tmp_path):
    out = _run(tmp_path, 1e9)
    design = out["designs"][0]
    assert design["latency_ms"]["p50"] == CEILING_MS  # the bucket's lower edge ...
    assert {"latency_ms.p50", "latency_ms.p99", "slo.achieved_ms"} <= set(design["saturated"])
    warning = next(w for w in design["warnings"] if w["code"] == "histogram_saturated")
    assert "> 16,777,216,000 ms" in warning["message"]  # ... flagged as a lower bound
    # The mean is not read from the histogram: about 300 x 1e6 s, far above the ceiling.
    assert design["latency_ms"]["mean"] > 10 * CEILING_MS
    # The flag survives a round trip through the results JSON.
    assert RunResult.from_json(json.dumps(out)).designs[0].saturated == tuple(
        design["saturated"])


def test_percentiles_below_the_ceiling_are_not_flagged(tmp_path):
    design = _run(tmp_path, 100.0)["designs"][0]
    assert "saturated" not in design
    assert all(w["code"] != "histogram_saturated" for w in design["warnings"])


def test_reports_show_a_saturated_percentile_as_a_lower_bound(tmp_path):
    """What the user reads: every format prints ``> value`` for the flagged percentiles and
    the SLO's achieved value, and the plain value for the mean (which is not read from the
    histogram)."""
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(_scenario(1e9)))
    shown = {}
    for fmt in ("markdown", "html", "table"):
        res = runner.invoke(app, ["compare", str(path), "-q", "-f", fmt, "--wide"],
                            env={"COLUMNS": "250"})
        assert res.exit_code == 0, res.output
        shown[fmt] = res.stdout
    md = {line.split(" | ")[0].lstrip("| "): line for line in shown["markdown"].splitlines()
          if line.startswith("| ")}
    assert "\\> 4,660.34 h" in md["p50 latency"] and "\\> 4,660.34 h" in md["p99 latency"]
    assert ">" not in md["mean latency"].replace("\\>", "")  # the mean is exact
    assert "MISSED (> 4,660.34 h)" in md["SLO"]
    assert shown["table"].count("> 4,660.34 h") >= 3  # p50, p99 and the SLO's value
    assert "&gt; 4,660.34 h" in shown["html"] or "> 4,660.34 h" in shown["html"]
    fine = _scenario(100.0)
    path.write_text(yaml.safe_dump(fine))
    res = runner.invoke(app, ["compare", str(path), "-q", "-f", "markdown"])
    assert "\\>" not in res.stdout and "(> " not in res.stdout
