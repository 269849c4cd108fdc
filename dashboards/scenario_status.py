"""What the Scenarios page says about its state: which inputs a run came from, whether the
results on screen are stale, and which controls a validation message is about.

Plain functions of plain data (the page's stores and the validation text), so they are tested
without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RunInputs = Mapping[str, Any]
"""``{"scenario": choice, "values": {edit key: value}}``: the view a run was started from (the
page's ``scn-edits`` store)."""

_LABELS = {"rate_rps": "arrival rate", "slo_ms": "SLO latency", "ttft_ms": "SLO TTFT",
           "tpot_ms": "SLO TPOT", "horizon_s": "horizon", "replications": "replications"}


def _shown(value: Any) -> str:
    if value is None:
        return "scenario's own"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _name(key: str) -> str:
    if "." in key:
        design, field = key.rsplit(".", 1)
        return f"{design} {field.replace('_', ' ')}"
    return _LABELS.get(key, key)


def inputs_text(inputs: RunInputs | None) -> str:
    """Return ``"scenario tiny; edits: rate_rps=150, small.nodes=3"`` for a run's inputs."""
    if not inputs:
        return "no run yet"
    values = inputs.get("values") or {}
    edits = ", ".join(f"{k}={_shown(v)}" for k, v in sorted(values.items())) or "none"
    return f"scenario {inputs.get('scenario')}; edits: {edits}"


def input_changes(ran: RunInputs | None, now: RunInputs | None) -> list[str]:
    """Return what differs between the inputs of a run and the page's inputs now, one line per
    change (``"small nodes 3 → 4"``); empty when the results on screen are current.

    An edit missing on one side is the scenario's own value there.
    """
    if not ran or not now:
        return []
    if ran.get("scenario") != now.get("scenario"):
        return [f"scenario {ran.get('scenario')} → {now.get('scenario')}"]
    before, after = ran.get("values") or {}, now.get("values") or {}
    return [f"{_name(k)} {_shown(before.get(k))} → {_shown(after.get(k))}"
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


# ----------------------------------------------------------------------------- invalid fields

_DESIGN_PATHS: dict[str, str] = {
    "fleet.instance": "instance",
    "fleet.purchase": "purchase",
    "fleet.spot": "purchase",
    "fleet.spot.interruptions": "spot_interruptions",
    "fleet.spot.interruptions.kind": "spot_interruptions",
    "fleet.spot.interruptions.band": "spot_interruptions",
    "fleet.spot.interruptions.path": "spot_interruptions",
    "fleet.spot.interruptions.per_node_hour": "spot_per_node_hour",
    "fleet.nodes": "nodes",
    "fleet.on_demand_base": "on_demand_base",
    "fleet.autoscaling.min_nodes": "min_nodes",
    "fleet.autoscaling.max_nodes": "max_nodes",
    "fleet.max_nodes": "max_nodes",
    "batching.max_batch": "max_batch",
    "batching.max_wait_ms": "max_wait_ms",
    "engine.max_num_seqs": "max_num_seqs",
    "engine.max_num_batched_tokens": "max_num_batched_tokens",
}
"""A design's field path in a validation message -> the page control that sets it."""

_WORKLOAD_PATHS: dict[str, str] = {
    "arrivals.rate_rps": "rate_rps",
    "arrivals.mean_rate_rps": "rate_rps",
    "slo.latency_ms": "slo_ms",
    "slo.latency_s": "slo_ms",
    "slo.ttft_ms": "ttft_ms",
    "slo.tpot_ms": "tpot_ms",
}
_GLOBAL_PATHS = {"horizon_s": "horizon_s", "warmup_s": "horizon_s",
                 "replications": "replications"}

_PATH = re.compile(r"(?:(designs|workloads)\[(\d+)\]\.)?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
                   r"(?:\[\d+\])?: ")


@dataclass(frozen=True)
class FieldProblem:
    """One problem of a validation message that a control of the page can fix."""

    field: str
    """The control (a key of the page's inputs: ``nodes``, ``rate_rps`` ...)."""
    design: str | None
    """The design whose field it is (None: a scenario-wide field)."""
    text: str
    """The problem, naming the design (``small: fleet.nodes must be >= 1 (got 0); ...``)."""


def _lines(message: str) -> list[str]:
    """Split a validation message into its problem lines (``  - path: ...`` bullets, or
    ``; ``-joined instance problems after the file label)."""
    body = message.split(": ", 1)[1] if re.match(r"^[\w.-]+\.ya?ml: ", message) else message
    if "\n" in body:
        return [line.strip().removeprefix("- ").strip() for line in body.splitlines()[1:]
                if line.strip()]
    return [part.strip() for part in re.split(r"; (?=designs\[\d+\]\.)", body)]


def field_problems(message: str, designs: Sequence[str]) -> list[FieldProblem]:
    """Return the problems of a validation ``message`` that a page control can fix.

    ``designs`` are the scenario's design names in file order (a message says ``designs[1]``;
    the page says the name). Problems no control sets (a file path, a service time) are left
    to the message itself.
    """
    out = []
    for line in _lines(message):
        match = _PATH.match(line)
        if match is None:
            continue
        section, index, path = match.group(1), match.group(2), match.group(3)
        rest = line[match.end():]
        if section == "designs":
            field = _DESIGN_PATHS.get(path) or _DESIGN_PATHS.get(path.rsplit(".", 1)[0])
            i = int(index)
            design = designs[i] if i < len(designs) else None
            if field is not None and design is not None:
                out.append(FieldProblem(field, design, f"{design}: {path} {rest}"))
        elif section == "workloads":
            field = _WORKLOAD_PATHS.get(path)
            if field is not None:
                out.append(FieldProblem(field, None, f"workloads[{index}].{path} {rest}"))
        elif path in _GLOBAL_PATHS:
            out.append(FieldProblem(_GLOBAL_PATHS[path], None, f"{path} {rest}"))
    return out


def name_designs(message: str, designs: Sequence[str]) -> str:
    """Return ``message`` with each ``designs[i]`` followed by the design's name in quotes."""
    def named(match: re.Match[str]) -> str:
        i = int(match.group(1))
        return f"{match.group(0)} ({designs[i]})" if i < len(designs) else match.group(0)

    return re.sub(r"designs\[(\d+)\]", named, message)
