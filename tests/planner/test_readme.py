"""The README's scenario snippets are valid scenarios (documentation that cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from planner.schema import parse_scenario

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_yaml_snippets_validate() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    assert len(blocks) >= 2
    base = yaml.safe_load(blocks[0])
    parse_scenario(base)
    # the fleet snippet is a design's indented fragment: graft it onto the first scenario
    fragment = ("designs:\n  - name: fleet\n    workload: bert\n    pattern: realtime\n"
                + blocks[1] + "    service_time: {kind: constant, ms: 5}\n")
    design = yaml.safe_load(fragment)["designs"][0]
    scenario = parse_scenario({**base, "designs": [design]})
    assert scenario.designs[0].fleet.autoscaling is not None
    assert scenario.designs[0].fleet.spot is not None


def test_readme_pattern_and_pricing_snippets_validate() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    base = yaml.safe_load(blocks[0])
    patterns = next(yaml.safe_load(b) for b in blocks if "pattern: streaming" in b)
    pricing = next(yaml.safe_load(b) for b in blocks if b.startswith("pricing:"))
    workloads = [{**base["workloads"][0], "name": "transactions"}, *patterns["workloads"]]
    training = {"name": "train", "workload": "finetune", "pattern": "training",
                "fleet": {"instance": "gcp:a3-highgpu-8g", "nodes": 4}}
    scenario = parse_scenario({**base, "workloads": workloads,
                               "designs": [*patterns["designs"], training],
                               "pricing": pricing["pricing"]})
    assert [d.pattern for d in scenario.designs] == ["streaming", "batch", "training"]
    assert scenario.pricing.commitments[0].kind == "savings_plan"
    assert scenario.pricing.negotiated_percent("aws") == 8


def test_readme_sweep_snippet_validates() -> None:
    from planner.sweep.points import plan_sweep

    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    base = yaml.safe_load(blocks[0])
    sweep = next(yaml.safe_load(b) for b in blocks if b.startswith("sweep:"))["sweep"]
    design = {**base["designs"][0], "name": "realtime-base",
              "fleet": {"instance": "aws:g5.xlarge", "nodes": 1}}
    scenario = parse_scenario({**base, "designs": [design], "sweep": sweep})
    assert scenario.sweep is not None and scenario.sweep.design == "realtime-base"
    plan = plan_sweep(scenario)  # every point is checked by the design schema
    assert len(plan.points) == 2 * 4 * 2 * 2 and plan.runnable


def test_readme_llm_snippet_validates() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.DOTALL)
    llm = next(yaml.safe_load(b) for b in blocks if "pattern: llm" in b)
    scenario = parse_scenario({"name": "readme-llm", "horizon_s": 600, **llm})
    design = scenario.designs[0]
    assert design.pattern == "llm" and design.engine.max_num_seqs == 256
    assert scenario.workloads[0].slo.ttft_ms == 500
