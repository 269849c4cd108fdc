"""The JSON Schema of a run's results (``planner run`` / ``compare --format json``).

:meth:`planner.results.RunResult.to_dict` is hand-written, so its schema is generated from a
typed mirror of it: pydantic models whose fields are the keys ``to_dict`` writes, reusing the
result dataclasses where ``to_dict`` writes them as they are (batching, request counts, spot
interruptions, launches, the LLM engine, distributions) and the constants the writer uses
(:data:`~planner.results.SCHEMA_VERSION`, latency and wait keys, SLO verdicts, warning codes,
LLM keys).  Every key ``to_dict`` always writes is required; ``slos``, ``llm`` and
``unjudged_slo`` are written only for some designs; numbers that may be unknown (or were NaN,
which the JSON writes as null) are ``number | null``.  Objects are closed
(``additionalProperties: false``) except the free-form maps (pattern metrics, autoscaling,
node-hours by purchase option, timings); assumptions allow any ``pattern_<name>``.

``tests/planner/test_json_schemas.py`` validates real runs of every pattern against the
shipped file, so a key added to ``to_dict`` without a change here fails there.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, WithJsonSchema, create_model

from planner.json_schemas import drop_property_titles, walk

OptNum = float | None
Interval = Annotated[list[float | None], Field(
    min_length=2, max_length=2, description="95 % confidence interval [low, high] of the mean "
    "across replications (nulls: unknown, or a single replication)")]
Scalar = float | int | str | bool | None


class Doc(BaseModel):
    """Base of the mirrors: closed objects, descriptions from attribute docstrings."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def keyed(name: str, keys: typing.Iterable[str], value: Any, doc: str,
          optional: typing.Iterable[str] = ()) -> type[Doc]:
    """Return a closed object model with one field of type ``value`` per key (``optional``:
    keys that may be absent)."""
    maybe = tuple(optional)
    fields: dict[str, Any] = {k: (value, None if k in maybe else ...) for k in (*keys, *maybe)}
    return create_model(name, __base__=Doc, __doc__=doc, **fields)


def output_schema(root: Any, *, closed: typing.Iterable[str] = ()) -> dict[str, Any]:
    """Return the serialization-mode schema of ``root`` (a mirror or a dataclass), with
    ``closed`` dataclass definitions made closed and fully required (``asdict`` writes every
    field), no defaults (an output has values, not defaults) and no property titles."""
    schema = TypeAdapter(root).json_schema(mode="serialization")
    defs = schema.get("$defs", {})
    for name in closed:
        target = defs.get(name) if name in defs else (
            schema if schema.get("title") == name else None)
        if target is None:
            raise RuntimeError(f"no definition {name!r} to close in the {root} schema")
        target["required"] = list(target.get("properties", {}))
        target["additionalProperties"] = False

    def no_defaults(node: dict[str, Any]) -> None:
        for prop in (node.get("properties") or {}).values():
            if isinstance(prop, dict):
                prop.pop("default", None)
    walk(schema, no_defaults)
    drop_property_titles(schema)
    return schema


def literal(values: typing.Iterable[Any]) -> Any:
    """Return ``Literal[v1, v2, ...]`` of ``values``."""
    return Literal[tuple(values)]  # type: ignore[valid-type]


def patterns() -> tuple[str, ...]:
    """The design patterns of the scenario schema (the discriminator of ``Design``)."""
    from planner import schema

    union = schema.Design
    if typing.get_origin(union) is Annotated:
        union = typing.get_args(union)[0]
    return tuple(typing.get_args(cls.model_fields["pattern"].annotation)[0]
                 for cls in typing.get_args(union))


# ----------------------------------------------------------------------------------- models

def slo_models() -> tuple[type[Doc], type[Doc]]:
    """Return the mirrors of an SLO bound (``SloResult.to_dict``): without and with its
    ``attainment`` (the design's ``slo`` and ``slos``; a sweep point's ``slos``)."""
    from planner import results

    Verdicts = literal((results.SLO_MET, results.SLO_MISSED, results.SLO_INCONCLUSIVE))
    SloMetric = Literal["latency", "ttft", "tpot", "e2e"]

    class SloBound(Doc):
        """A bound of the SLO and how the design did against it (``slo``)."""

        metric: SloMetric  # type: ignore[valid-type]
        """What is bounded: latency (the design's own distribution: latency, freshness or
        completion time) or, for LLM designs, ttft, tpot or e2e."""
        percentile: float
        latency_ms: float
        """The bound (ms)."""
        achieved_ms: OptNum
        """The value at the percentile, mean over replications (ms)."""
        achieved_ms_ci95: Interval
        achieved_ms_n: int
        """Replications the achieved value rests on."""
        met: bool
        """True only for a verdict of met."""
        verdict: Verdicts  # type: ignore[valid-type]
        """met or MISSED when the 95 % interval lies on one side of the bound, inconclusive
        when it straddles it."""
        replications_to_settle: int | None
        """For an inconclusive verdict, about how many replications would settle it."""

    class SloBoundWithAttainment(SloBound):
        """A bound of the SLO in ``slos`` (every bound), with its attainment."""

        attainment: OptNum
        """Share of the work within the bound (0..1), mean over replications."""

    return SloBound, SloBoundWithAttainment


def _models() -> type[Doc]:
    """Build the mirror of ``RunResult.to_dict`` (imports the result types)."""
    from planner import result_llm, result_parts, results

    SloBound, SloBoundWithAttainment = slo_models()

    class DesignWarning(Doc):
        """A flag on the design's figures."""

        code: literal(result_parts.WARNING_CODES)  # type: ignore[valid-type]
        """Stable code for machines (see planner.result_parts.WARNING_CODES)."""
        message: str
        """The sentence for people."""

    class PriceSource(Doc):
        """Where a purchase option's price came from."""

        purchase: str
        source: str | None
        as_of: str | None

    class Layer(Doc):
        """The cost after one pricing layer (list, negotiated, commitment, spot)."""

        layer: str
        total_usd: OptNum

    class CommitmentTerm(Doc):
        """A commitment priced for its whole term, used or not."""

        purchase: str
        term_years: int
        committed_nodes: float
        rate_usd_per_node_hour: float
        term_usd_per_month: float
        used_usd_per_month: float
        used_share: float
        """Share of the term's hours the design uses (0..1)."""
        term_usd: float

    class Commitment(Doc):
        """What a commitment covers and costs (means over replications; the keys present
        depend on how it is priced: pricing.commitments, and/or term for a reserved purchase
        priced for its whole term)."""

        label: str = None  # type: ignore[assignment]
        kind: str = None  # type: ignore[assignment]
        rate_usd_per_hour: OptNum = None
        committed_nodes: float = None  # type: ignore[assignment]
        covered_node_hours: float = None  # type: ignore[assignment]
        on_demand_node_hours: float = None  # type: ignore[assignment]
        committed_usd: OptNum = None
        unused_commitment_usd: OptNum = None
        utilization_of_commitment: OptNum = None
        term: CommitmentTerm = None  # type: ignore[assignment]

    CostNumbers = keyed("CostNumbers", results.COST_NUMBERS, OptNum, "")

    class Cost(CostNumbers):  # type: ignore[misc, valid-type]
        """What the design costs (USD; null: unknown price)."""

        usd_per_month_ci95: Interval | None
        incomplete: bool
        """A purchase option the design uses has no price: the totals leave it out."""
        purchase: str
        price_source: str | None
        price_as_of: str | None
        catalog: str
        note: str | None
        usd_by_purchase: dict[str, OptNum]
        price_sources: list[PriceSource]
        discounts: list[str]
        layers: list[Layer]
        commitment: Commitment | None

    class Fleet(Doc):
        """The design's fleet and what it used (means per replication)."""

        instance: str
        region: str | None
        purchase: str
        nodes: int
        workers_per_node: int
        workers: int
        gpus_per_node: int | None
        gpu_model: str | None
        autoscaling: dict[str, Any] | None
        """The design's autoscaling settings as given (null: a fixed fleet)."""
        spot_interruptions: result_parts.SpotInterruptions | None
        node_hours: dict[str, float]
        """Node-hours by purchase option."""
        node_hours_split: dict[str, dict[str, float]]
        """Each purchase option's node-hours split into provisioning, busy and idle."""
        node_hours_by_state: dict[str, float]
        provisioning_hours: float
        preemptions: float
        requeued_requests: float
        dropped_requests: float
        stranded_requests: float
        launches_without_slot: float
        scale_out_actions: float
        scale_in_actions: float
        mean_nodes: float
        max_nodes: float
        summary: str | None
        busy_node_hours_window: OptNum
        idle_node_hours_window: OptNum
        gpu_busy_hours_window: OptNum
        preemption_events: OptNum
        launches: result_parts.Launches | None
        per_replication_means: bool

    LatencyT = keyed("LatencyMs", results.LATENCY_KEYS, OptNum,
                    "The design's metric (latency, freshness or completion time), ms.")
    LatencyCiT = keyed("LatencyMsCi95", results.LATENCY_KEYS, Interval, "")
    more_waits = [k for k in results.LATENCY_KEYS if k not in results.WAIT_KEYS]
    WaitT = keyed("WaitMs", results.WAIT_KEYS, OptNum, "Queueing wait, ms (p90 and p95 where "
                 "the design has a request queue).", optional=more_waits)
    WaitCiT = keyed("WaitMsCi95", results.WAIT_KEYS, Interval, "", optional=more_waits)
    LlmT = _llm_model(result_llm)
    TimelineT = Annotated[dict[str, Any], WithJsonSchema(TIMELINE)]

    class Design(Doc):
        """One design's results, summarised over its replications."""

        name: str
        workload: str
        pattern: literal(patterns())  # type: ignore[valid-type]
        metric: literal(results.METRIC_LABELS)  # type: ignore[valid-type]
        """What latency_ms measures: latency, freshness or completion_time."""
        fleet: Fleet
        batching: (result_parts.RequestBatching | result_parts.WindowBatching
                   | result_parts.ScheduleBatching | result_parts.ContinuousBatching | None)
        """How the design groups its work (its keys tell the kind; null: no batching)."""
        service_time: str
        arrivals: str
        latency_ms: LatencyT  # type: ignore[valid-type]
        latency_ms_ci95: LatencyCiT  # type: ignore[valid-type]
        wait_ms: WaitT  # type: ignore[valid-type]
        wait_ms_ci95: WaitCiT  # type: ignore[valid-type]
        throughput_rps: OptNum
        arrival_rate_rps: OptNum
        utilization: OptNum
        utilization_ci95: Interval
        slo_attainment: OptNum
        slo: SloBound | None
        """The first bound of the SLO (null: no SLO)."""
        mean_batch_size: OptNum
        mean_queue_length: OptNum
        littles_law_relative_error: OptNum
        requests: result_parts.RequestCounts
        node_hours: float
        gpu_hours: OptNum
        busy_gpu_hours: OptNum
        cost: Cost
        pattern_metrics: dict[str, Scalar]
        """Numbers (and labels) only this pattern reports."""
        distribution_ms: result_parts.DistributionResult | None
        timeline: TimelineT  # type: ignore[valid-type]
        warnings: list[DesignWarning]
        slos: list[SloBoundWithAttainment] = None  # type: ignore[assignment]
        """Every bound of the SLO (written when there is more than one)."""
        llm: LlmT = None  # type: ignore[valid-type, assignment]
        """What only LLM designs report (written for LLM designs)."""
        unjudged_slo: list[Literal["ttft", "tpot"]] = None  # type: ignore[assignment]
        """Bounds this design cannot be judged on (written when there are some)."""
        saturated: list[str] = None  # type: ignore[assignment]
        """Figures in the latency histogram's overflow bucket (at or beyond 2^24 s), such as
        latency_ms.p99: lower bounds, not estimates (written when there are some)."""

    class Scenario(Doc):
        """The scenario that was run."""

        name: str
        description: str | None
        path: str | None
        horizon_s: float
        warmup_s: float
        replications: int
        seed: int

    class Recommendation(Doc):
        """The cheapest design meeting every SLO, with the designs tied with it on cost."""

        cheapest_meeting_slo: str | None
        usd_per_month: OptNum
        usd_per_month_ci95: Interval | None
        cost_ties: list[str]

    AssumptionsT = Annotated[dict[str, Any], WithJsonSchema(ASSUMPTIONS)]
    TimingsT = Annotated[dict[str, float], WithJsonSchema(TIMINGS)]

    class Results(Doc):
        """The results of ``planner run`` / ``planner compare`` (``--format json``)."""

        schema_version: Literal[results.SCHEMA_VERSION]  # type: ignore[valid-type]
        planner_version: str
        scenario: Scenario
        assumptions: AssumptionsT  # type: ignore[valid-type]
        designs: list[Design]
        recommendation: Recommendation
        timings: TimingsT  # type: ignore[valid-type]

    return Results


def _llm_model(result_llm: Any) -> type[Doc]:
    keys = result_llm.LLM_LATENCY_KEYS
    fields: dict[str, Any] = {}
    for which in result_llm.LLM_DISTRIBUTIONS:
        fields[f"{which}_ms"] = (keyed(f"{which.upper()}Ms", keys, OptNum, ""), ...)
        fields[f"{which}_ms_ci95"] = (keyed(f"{which.upper()}MsCi95", keys, Interval, ""), ...)
    for name in result_llm.LLM_RATES:
        fields[name] = (OptNum, ...)
        fields[f"{name}_ci95"] = (Interval, ...)
    for name in result_llm.LLM_COUNTS:
        fields[name] = (float, ...)
    fields["kv_cache_tokens"] = (int, ...)
    fields["engine"] = (result_llm.LlmEngineResult, ...)
    fields["distributions_ms"] = (dict[str, result_llm.DistributionResult], ...)
    return create_model("Llm", __base__=Doc, __doc__="LLM serving metrics (ms; estimates "
                        "over replications): TTFT, TPOT, E2E, token rates, goodput, KV cache.",
                        **fields)


TIMELINE: dict[str, Any] = {
    "type": "object",
    "description": "Series over the horizon for charts, one value per bin of bin_s starting at "
                   "start_s (an empty object: no timeline); node series are nodes or "
                   "nodes_<class or state>.",
    "properties": {"bin_s": {"type": "number"},
                   "start_s": {"type": "array", "items": {"type": "number"}}},
    "additionalProperties": {"type": "array", "items": {"type": ["number", "null"]}},
    "anyOf": [{"maxProperties": 0}, {"required": ["bin_s", "start_s"]}],
}
ASSUMPTION_KEYS = ("hours_per_month", "price_catalog", "price_catalog_as_of", "discounts",
                   "cost_basis", "unit_cost_basis", "monthly_projection", "utilization_basis",
                   "fleet", "statistics", "percentiles")
ASSUMPTIONS: dict[str, Any] = {
    "type": "object",
    "description": "What every figure rests on, in words (pattern_<name>: each pattern's own).",
    "properties": {"hours_per_month": {"type": "number"},
                   "price_catalog_as_of": {"type": ["string", "null"]},
                   **{k: {"type": "string"} for k in ASSUMPTION_KEYS
                      if k not in ("hours_per_month", "price_catalog_as_of")}},
    "required": list(ASSUMPTION_KEYS),
    "patternProperties": {"^pattern_": {"type": "string"}},
    "additionalProperties": False,
}
TIMINGS: dict[str, Any] = {
    "type": "object",
    "description": "Wall-clock timings (s): the only figures that differ between two runs of "
                   "the same inputs and seed.",
    "properties": {"wall_s": {"type": "number"}},
    "required": ["wall_s"],
    "additionalProperties": {"type": "number"},
}

CLOSED = ("RequestBatching", "WindowBatching", "ScheduleBatching", "ContinuousBatching",
          "RequestCounts", "SpotInterruptions", "Launches", "LlmEngineResult",
          "DistributionResult")
"""The result dataclasses the JSON writes whole (``asdict``): every field, nothing else."""


def results_schema() -> dict[str, Any]:
    """The schema of ``RunResult.to_dict`` (see the module docstring)."""
    return output_schema(_models(), closed=CLOSED)
