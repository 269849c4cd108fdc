"""Typed parts of a design's results: its fleet, batching, work counts, distribution, timeline.

Every report, guardrail and the dashboard read these fields; ``to_dict`` gives each part's
stable JSON form inside :meth:`planner.results.DesignResult.to_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from planner.result_read import Node

WARNING_CODES = {
    "price_unknown": "a purchase option the design uses has no price",
    "overload": "offered load exceeds the fleet's capacity: queues grow without bound",
    "work_pending": "more than 1 % of the work that arrived is unfinished at the horizon",
    "partial_day": "daily traffic simulated over part of a day: monthly figures extrapolate it",
    "commitment_term": "a commitment is priced for its whole term, not only the hours used",
    "commitment_underused": "most of a commitment's term is paid for but unused",
    "slo_inconclusive": "the SLO's confidence interval straddles the bound",
    "deadline_missed": "jobs or runs miss their deadline",
    "job_overrun": "a job starts late because the previous one is still running",
    "backlog": "processing falls behind the arrivals",
    "trace": "a note on the arrival trace",
    "gpus_unknown": "GPUs per node unknown",
    "model": "a caveat of the service-time or latency model",
    "histogram_saturated": "a percentile lies beyond the latency histogram's last bucket "
                           "(2^24 s): it is a lower bound, not an estimate",
}
"""Every code a design warning may carry, with what it means (the JSON's ``warnings[].code``)."""


class DesignWarning(str):
    """A flag on a design's figures: its sentence for people (the string itself, so every
    report prints it as it is) and a stable :attr:`code` from :data:`WARNING_CODES` for
    machines (the JSON's ``warnings[].code``)."""

    code: str

    def __new__(cls, code: str, message: str) -> DesignWarning:
        if code not in WARNING_CODES:
            raise ValueError(f"unknown design warning code {code!r}")
        obj = super().__new__(cls, message)
        obj.code = code
        return obj

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (self.code, str(self))

    @property
    def message(self) -> str:
        """The sentence."""
        return str(self)

    def to_dict(self) -> dict[str, str]:
        """Return ``{"code", "message"}``."""
        return {"code": self.code, "message": str(self)}

    @classmethod
    def from_dict(cls, node: Node) -> DesignWarning:
        """Read back :meth:`to_dict`."""
        return cls(node["code"].one_of(WARNING_CODES), node["message"].text())


@dataclass(frozen=True)
class SpotInterruptions:
    """Where a design's spot interruption model came from."""

    kind: str  # "rate", "advisor" or "trace"
    per_node_hour: float | None
    band: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, node: Node) -> SpotInterruptions:
        """Read back :meth:`to_dict`."""
        return cls(kind=node["kind"].text(), per_node_hour=node["per_node_hour"].opt_num(),
                   band=node["band"].opt_text(), detail=node["detail"].text())


@dataclass(frozen=True)
class Launches:
    """Node launches per replication by node class (real-time fleets)."""

    base: float
    spot: float
    on_demand_fallback: float

    def to_dict(self) -> dict[str, float]:
        """Return the JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, node: Node) -> Launches:
        """Read back :meth:`to_dict`."""
        return cls(base=node["base"].num(), spot=node["spot"].num(),
                   on_demand_fallback=node["on_demand_fallback"].num())


@dataclass(frozen=True)
class ServingSplit:
    """What the serving fleet's nodes did in the measured window (real-time fleets)."""

    busy_node_hours_window: float
    idle_node_hours_window: float
    gpu_busy_hours_window: float
    preemption_events: float
    launches: Launches


@dataclass(frozen=True)
class FleetResult:
    """A design's fleet and what it used, means per replication.

    ``node_hours`` and ``node_hours_split`` are keyed by purchase option; ``node_hours_split``
    splits each option's node-hours into provisioning, busy and idle where the pattern knows;
    ``serving`` is set for fleets that serve a request queue.
    """

    instance: str
    region: str | None
    purchase: str
    nodes: int
    workers_per_node: int
    gpus_per_node: int | None
    gpu_model: str | None
    autoscaling: Mapping[str, Any] | None
    spot_interruptions: SpotInterruptions | None
    node_hours: Mapping[str, float]
    mean_nodes: float
    max_nodes: float
    node_hours_split: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    node_hours_by_state: Mapping[str, float] = field(default_factory=dict)
    provisioning_hours: float = 0.0
    preemptions: float = 0.0
    requeued_requests: float = 0.0
    dropped_requests: float = 0.0
    stranded_requests: float = 0.0
    launches_without_slot: float = 0.0
    scale_out_actions: float = 0.0
    scale_in_actions: float = 0.0
    summary: str | None = None
    serving: ServingSplit | None = None

    @property
    def workers(self) -> int:
        """Workers (one per GPU used) at the initial size."""
        return self.nodes * self.workers_per_node

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (every key always present)."""
        out: dict[str, Any] = {
            "instance": self.instance, "region": self.region, "purchase": self.purchase,
            "nodes": self.nodes, "workers_per_node": self.workers_per_node,
            "workers": self.workers, "gpus_per_node": self.gpus_per_node,
            "gpu_model": self.gpu_model,
            "autoscaling": None if self.autoscaling is None else dict(self.autoscaling),
            "spot_interruptions": None if self.spot_interruptions is None
            else self.spot_interruptions.to_dict(),
            "node_hours": dict(self.node_hours),
            "node_hours_split": {k: dict(v) for k, v in self.node_hours_split.items()},
            "node_hours_by_state": dict(self.node_hours_by_state),
            "provisioning_hours": self.provisioning_hours,
            "preemptions": self.preemptions,
            "requeued_requests": self.requeued_requests,
            "dropped_requests": self.dropped_requests,
            "stranded_requests": self.stranded_requests,
            "launches_without_slot": self.launches_without_slot,
            "scale_out_actions": self.scale_out_actions,
            "scale_in_actions": self.scale_in_actions,
            "mean_nodes": self.mean_nodes, "max_nodes": self.max_nodes,
            "summary": self.summary,
        }
        s = self.serving
        out.update({
            "busy_node_hours_window": None if s is None else s.busy_node_hours_window,
            "idle_node_hours_window": None if s is None else s.idle_node_hours_window,
            "gpu_busy_hours_window": None if s is None else s.gpu_busy_hours_window,
            "preemption_events": None if s is None else s.preemption_events,
            "launches": None if s is None else s.launches.to_dict(),
            "per_replication_means": True,
        })
        return out

    @classmethod
    def from_dict(cls, node: Node) -> FleetResult:
        """Read back :meth:`to_dict` (``workers`` is derived; ``serving`` is set when the
        window's split is)."""
        auto = node["autoscaling"]
        if auto.value is not None:
            for key in ("min_nodes", "max_nodes", "target"):
                auto[key].num()
            auto["metric"].text()
        spot = node["spot_interruptions"]
        serving = None
        if any(node[k].value is not None for k in SERVING_KEYS):
            serving = ServingSplit(*(node[k].num() for k in SERVING_KEYS[:-1]),
                                   launches=Launches.from_dict(node["launches"]))
        return cls(
            instance=node["instance"].text(), region=node["region"].opt_text(),
            purchase=node["purchase"].text(), nodes=node["nodes"].integer(),
            workers_per_node=node["workers_per_node"].integer(),
            gpus_per_node=node["gpus_per_node"].opt_integer(),
            gpu_model=node["gpu_model"].opt_text(), autoscaling=auto.opt_obj(),
            spot_interruptions=None if spot.value is None else SpotInterruptions.from_dict(spot),
            node_hours=node["node_hours"].num_map(),
            node_hours_split={k: v.num_map()
                              for k, v in node["node_hours_split"].entries().items()},
            node_hours_by_state=node["node_hours_by_state"].num_map(),
            mean_nodes=node["mean_nodes"].num(), max_nodes=node["max_nodes"].num(),
            **{k: node[k].num() for k in FLEET_COUNTS},
            summary=node["summary"].opt_text(), serving=serving)


SERVING_KEYS = ("busy_node_hours_window", "idle_node_hours_window", "gpu_busy_hours_window",
                "preemption_events", "launches")
"""The JSON keys of a fleet's :class:`ServingSplit` (all null without one)."""
FLEET_COUNTS = ("provisioning_hours", "preemptions", "requeued_requests", "dropped_requests",
                "stranded_requests", "launches_without_slot", "scale_out_actions",
                "scale_in_actions")
"""The fleet's numeric fields that are always numbers."""


@dataclass(frozen=True)
class RequestBatching:
    """Dynamic batching of a request queue: up to ``max_batch``, waiting at most ``max_wait_ms``."""

    max_batch: int
    max_wait_ms: float

    def describe(self) -> str:
        """Return a short line for tables."""
        return f"batch ≤{self.max_batch}, wait ≤{self.max_wait_ms:g} ms"


@dataclass(frozen=True)
class WindowBatching:
    """Streaming: records collected over ``window_s`` then processed in batches of ``max_batch``."""

    window_s: float
    max_batch: int

    def describe(self) -> str:
        """Return a short line for tables."""
        return f"window {self.window_s:g} s, batch ≤{self.max_batch}"


@dataclass(frozen=True)
class ScheduleBatching:
    """Scheduled batch jobs: one job every ``period_s`` (mean), in batches of ``max_batch``."""

    period_s: float
    max_batch: int

    def describe(self) -> str:
        """Return a short line for tables."""
        return f"a job every {self.period_s / 3600.0:g} h, batch ≤{self.max_batch}"


@dataclass(frozen=True)
class ContinuousBatching:
    """LLM engines: every step runs up to ``max_num_seqs`` sequences and
    ``max_num_batched_tokens`` tokens (decode tokens first, then prefill chunks)."""

    max_num_seqs: int
    max_num_batched_tokens: int

    def describe(self) -> str:
        """Return a short line for tables."""
        return (f"continuous, ≤{self.max_num_seqs} seqs, ≤{self.max_num_batched_tokens:,} "
                "tokens/step")


Batching = RequestBatching | WindowBatching | ScheduleBatching | ContinuousBatching
"""How a design groups its work (None for patterns that do not batch, e.g. training)."""


def batching_dict(batching: Batching | None) -> dict[str, Any] | None:
    """Return the JSON form of a design's batching (None when it does not batch)."""
    return None if batching is None else asdict(batching)


BATCHING_KINDS: dict[tuple[str, ...], type] = {
    ("max_batch", "max_wait_ms"): RequestBatching,
    ("window_s", "max_batch"): WindowBatching,
    ("period_s", "max_batch"): ScheduleBatching,
    ("max_num_seqs", "max_num_batched_tokens"): ContinuousBatching,
}
"""Each kind of batching by its JSON keys (in :func:`batching_dict`'s order)."""


def batching_from_dict(node: Node) -> Batching | None:
    """Read back :func:`batching_dict`: the keys tell the kind."""
    if node.value is None:
        return None
    keys = tuple(node.obj())
    kind = BATCHING_KINDS.get(keys)
    if kind is None:
        node.fail(f"has the keys {', '.join(keys) or 'none'}, not those of any batching ("
                  + "; ".join(", ".join(k) for k in BATCHING_KINDS) + ")")
    return kind(*(node[k].integer() if k.startswith("max_n") or k == "max_batch"
                  else node[k].num() for k in keys))


@dataclass(frozen=True)
class RequestCounts:
    """Units of work (requests, records or runs) per replication, means."""

    in_window_per_replication: float
    completed_by_horizon_per_replication: float
    in_system_at_horizon_per_replication: float
    dropped_per_replication: float

    def to_dict(self) -> dict[str, float]:
        """Return the JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, node: Node) -> RequestCounts:
        """Read back :meth:`to_dict`."""
        return cls(*(node[f.name].num() for f in fields(cls)))


@dataclass(frozen=True)
class DistributionResult:
    """Quantiles of a design's metric (mean over replications of each quantile), in ms."""

    quantiles: tuple[float, ...]
    values: tuple[float | None, ...]

    def to_dict(self) -> dict[str, list]:
        """Return the JSON-ready form."""
        return {"quantiles": list(self.quantiles), "values": list(self.values)}

    @classmethod
    def from_dict(cls, node: Node) -> DistributionResult:
        """Read back :meth:`to_dict`."""
        return cls(quantiles=node["quantiles"].nums(nullable=False),
                   values=node["values"].nums())


@dataclass(frozen=True)
class TimelineResult:
    """Series over the horizon for charts: one value per bin of ``bin_s`` starting at ``start_s``.

    Node series are named ``nodes`` (one fleet) or ``nodes_<class or state>`` (real-time fleets).
    """

    bin_s: float
    start_s: tuple[float, ...]
    series: Mapping[str, tuple[float | None, ...]] = field(default_factory=dict)

    def node_series(self) -> dict[str, tuple[float | None, ...]]:
        """Return the node-count series by name."""
        return {k: v for k, v in self.series.items() if k == "nodes" or k.startswith("nodes_")}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"bin_s": self.bin_s, "start_s": list(self.start_s),
                **{k: list(v) for k, v in self.series.items()}}

    @classmethod
    def from_dict(cls, node: Node) -> TimelineResult | None:
        """Read back :meth:`to_dict` (an empty object: no timeline)."""
        if not node.obj():
            return None
        series = {k: v.nums() for k, v in node.entries().items() if k not in ("bin_s", "start_s")}
        return cls(bin_s=node["bin_s"].num(), start_s=node["start_s"].nums(nullable=False),
                   series=series)
