"""JSON Schemas of the commands' other JSON outputs: sweep, diff, billing review and rates,
price listing, LLM step time, engine-run replay and latency fit files.

Each is generated from the types and constants the writer uses: the billing review from the
:class:`costmodels.billing.review_types.Review` dataclasses (``asdict``: every field), the rates
and price rows from the billing and catalog column dtypes, the sweep from typed mirrors of its
``to_dict`` and rows (:mod:`planner.sweep.store`) reusing the sweep constraints model and the
results' SLO bound, the diff from a mirror of ``RunDiff.to_dict`` using its status and change
vocabularies, the LLM documents from mirrors keyed by the fit terms and replay metrics.
Every document starts with ``schema_version`` and ``kind``, pinned by its schema (the bundled
latency fit predates ``kind``: a fit file may lack it).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

__all__ = ["billing_rates_schema", "billing_review_schema", "diff_schema", "latency_fit_schema",
           "llm_latency_schema", "llm_replay_schema", "prices_schema", "sweep_schema"]

from planner.json_schema_results import Doc, OptNum, keyed, literal, output_schema, slo_models
from planner.json_schemas import LATENCY_FIT_VERSION, LLM_LATENCY_VERSION, LLM_REPLAY_VERSION


def head(version: int, kind: str, *, kind_required: bool = True) -> dict[str, Any]:
    """The ``schema_version`` and ``kind`` fields every document starts with."""
    return {"schema_version": (Literal[version], ...),  # type: ignore[valid-type]
            "kind": (Literal[kind], ... if kind_required else None)}  # type: ignore[valid-type]


# ------------------------------------------------------------------------------------ sweep

def sweep_schema() -> dict[str, Any]:
    """``SweepResult.to_dict`` (``planner sweep --format json``)."""
    from planner.schema_sweep import Sweep, SweepConstraints
    from planner.sweep.engine import SCHEMA_VERSION

    _, SloBoundWithAttainment = slo_models()
    Status = Literal["ok", "skipped", "error"]

    class Row(Doc):
        """One point of the sweep as run (planner.sweep.store's row)."""

        point_id: str
        index: int
        """The point's index in the plan (a sensitivity case: its case number)."""
        params: dict[str, Any]
        """Parameter path -> value (a sensitivity case adds sensitivity: its name)."""
        seed: int
        status: Status  # type: ignore[valid-type]
        error: str | None
        """Why the point failed or was skipped."""
        metrics: dict[str, OptNum] | None
        """The design's flat metrics (the names --fail-if takes); null unless ok."""
        slo_ms: OptNum
        """The first SLO bound's achieved value (ms)."""
        meets_slo: bool | None
        slos: list[SloBoundWithAttainment] | None = None  # type: ignore[valid-type]
        """Every SLO bound (absent on a skipped point)."""
        cost_incomplete: bool | None
        usd_per_month_half_width: OptNum
        kernel_s: OptNum
        """Seconds inside the compiled kernels (when measured)."""
        wall_s: float

    class Point(Row):
        """A point of the sweep with its feasibility under the constraints."""

        feasible: bool

    class Scenario(Doc):
        """The swept scenario."""

        name: str
        path: str | None
        horizon_s: float
        replications: int
        seed: int

    class Counts(Doc):
        """How many points are ok, feasible, skipped and failed; run now or resumed."""

        points: int
        ok: int
        feasible: int
        skipped: int
        error: int
        ran_now: int
        resumed: int

    class Sensitivity(Doc):
        """The cheapest feasible point re-run under one perturbation."""

        case: str
        factor: float
        note: str | None
        """Why the case could not run (row null)."""
        row: Row | None
        meets_constraints: bool | None

    slo = keyed("SweepSlo", ("percentile", "latency_ms", "ttft_ms", "tpot_ms"), OptNum,
                "The base design's workload SLO (null bounds: not set).")
    fields: dict[str, Any] = {
        **head(SCHEMA_VERSION, "sweep"), "scenario": (Scenario, ...),
        "base_design": (str, ...), "mode": (Sweep.model_fields["mode"].annotation, ...),
        "constraints": (SweepConstraints, ...), "slo": (slo | None, ...),
        "counts": (Counts, ...), "executor": (str, ...), "workers": (int, ...),
        "wall_s": (float, ...), "output": (str, ...), "fingerprint": (str, ...),
        "price_catalog": (str, ...), "price_catalog_as_of": (str | None, ...),
        "cheapest_feasible": (Row | None, ...), "pareto_latency": (list[str], ...),
        "pareto_attainment": (list[str], ...), "sensitivity": (list[Sensitivity], ...),
        "points": (list[Point], ...), "notes": (list[str], ...)}
    root = create_model("SweepDocument", __base__=Doc, __doc__="A sweep's points, Pareto "
                        "fronts, cheapest feasible point and its sensitivity (planner sweep "
                        "--format json).", **fields)
    return output_schema(root, closed=("SweepConstraints",))


# ---------------------------------------------------------------------------------- billing

def billing_review_schema() -> dict[str, Any]:
    """``planner billing review --format json``: ``Review.to_dict`` headed by the version."""
    from dataclasses import fields, is_dataclass

    from costmodels.billing import review_types
    from planner.reports.billing_review import SCHEMA_VERSION

    dataclasses = [getattr(review_types, n) for n in review_types.__all__
                   if is_dataclass(getattr(review_types, n))]
    schema = output_schema(review_types.Review, closed=[c.__name__ for c in dataclasses])
    names = [f.name for f in fields(review_types.Review)]
    if schema.get("required") != names:
        raise RuntimeError("the Review schema does not list every field as required")
    schema["properties"] = {"schema_version": {"const": SCHEMA_VERSION},
                            "kind": {"const": "billing-review"}, **schema["properties"],
                            "notes": {"type": "array", "items": {"type": "string"},
                                      "description": "What the read of the exports noted "
                                                     "(reconciliation, rejected rows)."}}
    schema["required"] = list(schema["properties"])
    return schema


RATE_SOURCES: dict[str, str | type] = {
    "provider": "x_Provider", "region": "RegionId", "instance_type": "x_InstanceType",
    "purchase_option": "x_PurchaseOption", "billing_period": str,
    "usage_hours": "x_UsageHours", "effective_cost": "EffectiveCost", "list_cost": "ListCost",
    "effective_usd_per_hour": float, "list_usd_per_hour": float, "gpus": "x_GpuCount",
    "usd_per_gpu_hour": float, "currency": "BillingCurrency", "n_rows": "x_SourceRows",
    "source": str, "note": str,
}
"""Each rates column and the normalised billing column it aggregates (or its type)."""
RATES_NOT_NULL = ("billing_period", "usage_hours", "list_cost", "n_rows", "source")
"""Rates columns never null (sums and labels); every other is null when unknown."""


def _python_type(dtype: Any) -> type:
    """The JSON-ready Python type of a polars dtype."""
    import polars as pl

    if dtype == pl.String:
        return str
    if dtype == pl.Boolean:
        return bool
    if dtype.is_integer():
        return int
    if dtype.is_float():
        return float
    raise TypeError(f"no JSON type for the polars dtype {dtype}")


def billing_rates_schema() -> dict[str, Any]:
    """``planner billing rates --format json``: one object per
    :func:`costmodels.billing.rates.effective_rates` row, typed by its source columns."""
    from costmodels.billing.rates import RATE_COLUMNS
    from costmodels.billing.schema import NORMALISED_SCHEMA, PURCHASE_OPTIONS
    from planner.reports.billing_review import RATES_SCHEMA_VERSION

    if tuple(RATE_SOURCES) != RATE_COLUMNS:
        raise RuntimeError(f"the rates columns are {RATE_COLUMNS}; update RATE_SOURCES in "
                           "planner/json_schema_outputs.py")
    row: dict[str, Any] = {}
    for name, source in RATE_SOURCES.items():
        kind: Any = source if isinstance(source, type) else _python_type(
            NORMALISED_SCHEMA[source])
        if name == "purchase_option":
            kind = literal(PURCHASE_OPTIONS)
        row[name] = (kind if name in RATES_NOT_NULL else kind | None, ...)
    rate = create_model("Rate", __base__=Doc, __doc__="Effective $/hour of one provider, "
                        "region, instance type and purchase option (Usage rows; null: "
                        "unknown, see note).", **row)
    root = create_model("BillingRates", __base__=Doc, __doc__="Effective hourly rates from "
                        "the bills (planner billing rates --format json).",
                        **head(RATES_SCHEMA_VERSION, "billing-rates"),
                        billing_period=(str, Field(pattern=r"^\d{4}-\d{2}$")),
                        rows=(list[rate], ...))  # type: ignore[valid-type]
    return output_schema(root)


# ----------------------------------------------------------------------------------- prices

PRICE_KEYS = ("provider", "region", "instance_type", "as_of")
"""Catalog columns never null (the catalog refuses rows without them)."""


def prices_schema() -> dict[str, Any]:
    """``planner prices list --format json``: catalog rows typed by the catalog's columns."""
    from costmodels.catalog import CATALOG_SCHEMA
    from planner.reports.prices import SCHEMA_VERSION

    row: dict[str, Any] = {}
    for name, dtype in CATALOG_SCHEMA.items():
        kind = _python_type(dtype)
        row[name] = (kind if name in PRICE_KEYS else kind | None, ...)
    row["usd_per_gpu_hour"] = (OptNum, Field(description="on-demand price / GPUs"))
    row["spot_discount_pct"] = (OptNum, Field(description="100 x (1 - spot / on-demand)"))
    price = create_model("PriceRow", __base__=Doc, __doc__="One catalog row: USD per "
                         "node-hour by purchase option (null: unknown, never 0).", **row)
    root = create_model("Prices", __base__=Doc, __doc__="A filtered listing of the price "
                        "catalog (planner prices list --format json).",
                        **head(SCHEMA_VERSION, "prices"), catalog=(str, ...),
                        as_of=(str, Field(description="The newest as_of of the rows.")),
                        as_of_dates=(list[str], ...), basis=(str, ...),
                        rows=(list[price], ...))  # type: ignore[valid-type]
    return output_schema(root)


# -------------------------------------------------------------------------------------- llm

def _fit_terms() -> type[Doc]:
    from simulators.core.latency_model import FIT_TERMS

    fields: dict[str, Any] = {k: (float, ...) for k in FIT_TERMS}
    return create_model("FitTerms", __base__=Doc, __doc__="The latency model's fitted terms "
                        "(efficiencies 0..1, overheads in µs) and where they come from.",
                        **fields, source=(str, ...))


def llm_latency_schema() -> dict[str, Any]:
    """``planner llm latency --format json``."""
    breakdown = keyed("BreakdownMs", ("gemm", "attention", "allreduce", "logits", "overhead"),
                      float, "The step's parts (ms).")
    dtypes = Literal["bf16", "fp16", "fp8"]
    root = create_model(
        "LlmLatency", __base__=Doc, __doc__="The time of one engine step (planner llm latency "
        "--format json).", **head(LLM_LATENCY_VERSION, "llm-latency"),
        model=(str, ...), gpu=(str, ...), gpu_key=(str, ...),
        phase=(Literal["prefill", "decode"], ...), batch=(int, ...), tokens=(int, ...),
        context=(int, ...), tensor_parallel=(int, ...), dtype=(dtypes, ...),
        kv_dtype=(dtypes, ...), ms=(float, Field(description="The step time (ms).")),
        breakdown_ms=(breakdown, ...), gemm_bound=(str, ...), attention_bound=(str, ...),
        weights_gb_per_gpu=(float, ...), fits_memory=(bool, ...),
        fit=(str, Field(description="Where the fitted terms come from.")),
        measured_or_derived=(str, ...))
    return output_schema(root)


def _replay_stats() -> type[Doc]:
    from planner.llm_replay import METRICS, STATS

    stats = keyed("ReplayStats", STATS, float, "Mean and percentiles (ms).")
    return keyed("ReplayMetrics", METRICS, stats, "TTFT, TPOT and E2E (ms; error_pct: %).")


def latency_fit_schema() -> dict[str, Any]:
    """A latency fit file: ``planner llm fit`` (terms, errors per model, notes) or
    ``planner llm replay --fit`` (terms, host time, errors before and after)."""
    metrics = _replay_stats()

    class ShapeError(Doc):
        """The fit's error on one measured model's steps."""

        model: str
        rows: int
        median_abs_error_pct: float
        max_abs_error_pct: float

    root = create_model(
        "LatencyFit", __base__=Doc, __doc__="A latency fit file (latency: {kind: auto, fit: "
        "FILE} reads its fit).", **head(LATENCY_FIT_VERSION, "latency-fit",
                                        kind_required=False),
        fit=(_fit_terms(), ...), errors=(list[ShapeError], None), notes=(list[str], None),
        host_overhead_ms=(float, Field(None, description="Engine host time per step (ms).")),
        error_pct_before=(metrics, None), error_pct_after=(metrics, None))
    schema = output_schema(root)
    schema["anyOf"] = [{"required": ["errors", "notes"]},
                       {"required": ["host_overhead_ms", "error_pct_before",
                                     "error_pct_after"]}]
    return schema


def llm_replay_schema() -> dict[str, Any]:
    """``planner llm replay --format json`` (with ``--fit``: the replay after the fit, the one
    before it and the file written)."""
    metrics = _replay_stats()
    fields: dict[str, Any] = {
        "run": (str, ...), "requests": (int, ...), "model": (str, ...), "gpu": (str, ...),
        "measured": (metrics, ...), "predicted": (metrics, ...), "error_pct": (metrics, ...),
        "kv_cache_tokens": (int, ...), "host_overhead_ms": (float, ...),
        "fit": (_fit_terms(), ...), "derivation": (str, ...)}
    replay = create_model("Replay", __base__=Doc, __doc__="Measured and predicted latencies "
                          "of a recorded engine run.", **fields)
    root = create_model("LlmReplay", __base__=replay, __doc__="An engine-run replay (planner "
                        "llm replay --format json).", **head(LLM_REPLAY_VERSION, "llm-replay"),
                        before_fit=(replay, None), wrote=(str, None))
    schema = output_schema(root)
    _head_first(schema)
    return schema


def _head_first(schema: dict[str, Any]) -> None:
    """Put ``schema_version`` and ``kind`` first in the root's properties (as written)."""
    props = schema["properties"]
    schema["properties"] = {k: props[k] for k in ("schema_version", "kind")} | {
        k: v for k, v in props.items() if k not in ("schema_version", "kind")}
    if "required" in schema:
        schema["required"] = sorted(schema["required"], key=list(schema["properties"]).index)



# ------------------------------------------------------------------------------------- diff

def diff_schema() -> dict[str, Any]:
    """``planner diff --format json`` (:meth:`planner.reports.diff.RunDiff.to_dict`)."""
    from planner.reports import diff
    from planner.results import SLO_INCONCLUSIVE, SLO_MET, SLO_MISSED

    verdict = literal((SLO_MET, SLO_MISSED, SLO_INCONCLUSIVE)) | None
    names = list[str]

    class Side(Doc):
        """One input of the diff (the run itself is not repeated)."""

        source: str
        input: Literal["results", "scenario"]
        """A results JSON, or a scenario simulated for the diff."""
        scenario: str | None
        replications: int | None
        seed: int | None
        results_schema_version: int
        """The results schema the run was read in."""

    class Total(Doc):
        """Monthly cost of the designs priced completely on every side they are on."""

        old: OptNum
        new: OptNum
        delta: OptNum
        pct: OptNum
        left_out: names  # type: ignore[valid-type]
        """Designs whose cost is unknown or incomplete on a side."""

    summary = create_model(
        "Summary", __base__=Doc, __doc__="What changed, in one line and by design.",
        text=(str, ...), designs=(int, ...), **{s: (names, ...) for s in diff.STATUSES},
        usd_per_month=(Total, ...), slo_now_missed=(names, ...), slo_now_met=(names, ...),
        slo_now_inconclusive=(names, ...))

    class Metric(Doc):
        """One figure on both sides (old: BASE, new: HEAD; null: unknown)."""

        label: str
        unit: Literal["ms", "fraction", "usd"]
        old: OptNum
        new: OptNum
        delta: OptNum
        pct: OptNum
        """100 x (new - old) / |old| (null when either is unknown or old is 0)."""
        change: literal(diff.CHANGES)  # type: ignore[valid-type]
        text: str
        old_incomplete: bool = None  # type: ignore[assignment]
        """Cost metrics: the value is a lower bound."""
        new_incomplete: bool = None  # type: ignore[assignment]
        old_ci95_half_width: OptNum = None
        """usd_per_month: the 95 % half-width."""
        new_ci95_half_width: OptNum = None
        within_noise: bool | None = None
        """usd_per_month: the change is within the combined half-widths."""

    class Text(Doc):
        """A descriptive field on both sides."""

        old: str | None
        new: str | None
        changed: bool

    class Slo(Doc):
        """The SLO verdict on both sides (null: no SLO)."""

        old: verdict  # type: ignore[valid-type]
        new: verdict  # type: ignore[valid-type]
        old_text: str | None
        new_text: str | None
        change: literal(diff.SLO_CHANGES)  # type: ignore[valid-type]

    class Pair(Doc):
        """The design's pattern on both sides."""

        old: str | None
        new: str | None

    class DesignDiff(Doc):
        """What changed for one design (matched by name)."""

        name: str
        status: literal(diff.STATUSES)  # type: ignore[valid-type]
        pattern: Pair
        metric: str
        """What the latency percentiles measure: latency, freshness, completion time."""
        fleet: Text
        batching: Text
        slo: Slo
        metrics: dict[str, Metric]
        """Keyed by the guardrail names (p99_ms, usd_per_month, ...)."""

    root = create_model("Diff", __base__=Doc, __doc__="What changed between two runs (planner "
                        "diff --format json).", **head(diff.DIFF_SCHEMA_VERSION, "diff"),
                        planner_version=(str, ...), base=(Side, ...), head=(Side, ...),
                        summary=(summary, ...), designs=(list[DesignDiff], ...))
    return output_schema(root)
