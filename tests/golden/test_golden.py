"""Every bundled scenario gives the numbers pinned before the pattern-contract refactor.

The pin (``tests/golden/*.json``) was captured with ``capture.py`` from the code before the
refactor; a fresh run must agree value for value, bit for bit for floats (same seed, same
kernels). The only differences allowed are the fields the refactor fixed on purpose, listed in
:data:`ALLOWED` with the reason, and fields that did not exist when the pin was taken (every
key of the pin must still be there with its value).
"""

from __future__ import annotations

import json

import pytest

from tests.golden.capture import GOLDEN, golden_names, run_golden

ALLOWED: dict[tuple[str, str], str] = {
    ("streaming", "batching"): "the window was stored as max_wait_ms; now window_s",
    ("batch", "batching"): "the schedule period was stored as max_wait_ms; now period_s",
    ("training", "batching"): "training does not batch: null instead of nulls under batching keys",
}
"""(pattern, top-level key of a design) whose pinned value may differ, and why."""
ALLOWED_TOP = {"schema_version": "bumped when the JSON changes shape (see planner.results)"}
"""Top-level keys whose pinned value may differ, and why."""


def _diff(path: str, old, new, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old:
                continue  # a field added since the pin
            if key not in new:
                out.append(f"{path}.{key}: in the pin, missing now")
            else:
                _diff(f"{path}.{key}", old[key], new[key], out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(f"{path}[{i}]", a, b, out)
    elif old != new or type(old) is not type(new):
        out.append(f"{path}: pinned {old!r}, now {new!r}")


def _strip_allowed(result: dict) -> dict:
    for key in ALLOWED_TOP:
        result.pop(key, None)
    for design in result.get("designs", []):
        for (pattern, key) in ALLOWED:
            if design.get("pattern") == pattern:
                design.pop(key, None)
    return result


@pytest.mark.parametrize("name", golden_names())
def test_bundled_scenario_matches_the_pin(name: str):
    pinned = json.loads((GOLDEN / f"{name}.json").read_text())
    fresh = json.loads(json.dumps(run_golden(name), sort_keys=True))
    out: list[str] = []
    _diff(name, _strip_allowed(pinned), _strip_allowed(fresh), out)
    assert not out, f"{len(out)} value(s) differ from the pin:\n" + "\n".join(out[:40])
