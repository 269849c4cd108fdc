"""The README's scenario snippets are valid scenarios (documentation that cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from planner.schema import parse_scenario

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_yaml_snippets_validate() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
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
