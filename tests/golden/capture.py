"""Capture the JSON results of every bundled scenario (the refactoring pin).

Run ``python tests/golden/capture.py`` to rewrite ``tests/golden/*.json``; ``test_golden.py``
compares a fresh run with them value for value. Each scenario runs at its own horizon with at
most two replications (training keeps its minimum of 2,000 runs) against the built-in price
snapshot, so the pin does not depend on a local price cache. Wall-clock timings are dropped and
the checkout's folder is written ``<repo>`` (CI runs in another folder).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
SCENARIOS = ROOT / "scenarios"
REPLICATIONS = 2


def golden_names() -> list[str]:
    """Return the bundled scenarios pinned, by file stem."""
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def run_golden(name: str) -> dict:
    """Run bundled scenario ``name`` as the pin does and return its JSON as a dict."""
    from costmodels.catalog import load_snapshot
    from planner.run import run_scenario
    from planner.schema import load_scenario

    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    scenario = scenario.model_copy(update={"replications": min(scenario.replications,
                                                               REPLICATIONS)})
    text = run_scenario(scenario, catalog=load_snapshot()).to_json()
    result = json.loads(text.replace(json.dumps(str(ROOT))[1:-1], "<repo>"))
    result.pop("timings", None)
    result.pop("planner_version", None)
    result["scenario"].pop("path", None)
    return result


def main(names: list[str]) -> None:
    for name in names or golden_names():
        out = GOLDEN / f"{name}.json"
        out.write_text(json.dumps(run_golden(name), indent=1, sort_keys=True) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
