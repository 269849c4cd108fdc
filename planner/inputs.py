"""Read the data files a scenario points to: service-time tables, arrival, token and spot traces.

:mod:`planner.schema` validates a scenario without touching the filesystem; the input layer is
where the files named by its ``path`` fields are opened (CSV with polars, spot traces as JSON),
checked and turned into numpy arrays for the simulators, and where Spot Advisor bands are looked
up in the bundled table.  Every problem raises :class:`~domain.errors.ScenarioError` naming the
scenario field path, the file, the bad value (with its line number or index) and the fix.

This module gathers everything with :func:`load_scenario_inputs`; each kind of file has its own
module:

- :mod:`planner.inputs_tables`: measured service-time tables (:class:`ServiceTable`);
- :mod:`planner.inputs_traces`: arrival traces (:class:`TraceArrivalsData`);
- :mod:`planner.inputs_tokens`: token-latency profiles and per-request token counts;
- :mod:`planner.inputs_spot`: spot capacity traces (:class:`SpotTraceData`);
- :mod:`planner.inputs_billing`: effective rates from billing exports;
- :mod:`planner.inputs_common`: the CSV helpers they share.

It also checks each design's instance against the price catalog in use
(:func:`instance_problem`): an instance the catalog does not list is an input error with a
did-you-mean, unless the scenario prices it (an ``effective_rates`` entry, or billing exports that
show it).

Line numbers count the CSV header as line 1, so the first data row is line 2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from costmodels.catalog import (
    PriceCatalog,
    did_you_mean,
    price_sources_hint,
    suggest_instance_keys,
)
from costmodels.price_cache import default_catalog
from costmodels.spot_advisor import DEFAULT_REGION, SpotAdvice, lookup_band
from domain.errors import CatalogError, ScenarioError
from domain.purchase import PURCHASE_OPTIONS
from planner.inputs_billing import BillingRates, load_billing_rates
from planner.inputs_spot import SpotTraceData, load_spot_trace
from planner.inputs_tables import ServiceTable, load_service_table
from planner.inputs_tokens import TokenMeans, TokenModelInputs, load_token_means, load_token_model
from planner.inputs_traces import TraceArrivalsData, load_trace
from planner.schema import (
    AdvisorInterruptions,
    AutoLatency,
    Pricing,
    ProfileLatency,
    Scenario,
    TableServiceTime,
    TokenServiceTime,
    TraceArrivals,
    TraceInterruptions,
)

__all__ = ["ScenarioInputs", "instance_problem", "load_scenario_inputs"]


def _no_entries() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, eq=False)
class ScenarioInputs:
    """Every file-backed input of a scenario, loaded and checked.

    Attributes
    ----------
    service_tables : mapping of str to ServiceTable
        By design name, for designs whose service time is a table.
    traces : mapping of str to TraceArrivalsData
        By workload name, for workloads whose arrivals come from a trace.
    spot_traces : mapping of str to SpotTraceData
        By design name, for designs whose spot interruptions replay a capacity trace.
    spot_advice : mapping of str to SpotAdvice
        By design name, for designs whose spot interruptions use the Spot Advisor band of
        their instance and region (``kind: advisor`` without ``band``; a fleet without a
        region is looked up in :data:`costmodels.spot_advisor.DEFAULT_REGION`).
    token_means : mapping of str to TokenMeans
        By workload name, for workloads that declare tokens per request.
    token_models : mapping of str to TokenModelInputs
        By design name, for designs whose service time is a token model.
    billing_rates : BillingRates or None
        Effective rates from billing exports (``pricing: {source: billing}``), else None.
    """

    service_tables: Mapping[str, ServiceTable]
    traces: Mapping[str, TraceArrivalsData]
    spot_traces: Mapping[str, SpotTraceData] = field(default_factory=_no_entries)
    spot_advice: Mapping[str, SpotAdvice] = field(default_factory=_no_entries)
    token_means: Mapping[str, TokenMeans] = field(default_factory=_no_entries)
    token_models: Mapping[str, TokenModelInputs] = field(default_factory=_no_entries)
    billing_rates: BillingRates | None = None


@dataclass
class _Collected:
    """What :func:`load_scenario_inputs` has loaded so far, and every problem met on the way."""

    tables: dict[str, ServiceTable] = field(default_factory=dict)
    traces: dict[str, TraceArrivalsData] = field(default_factory=dict)
    spot_traces: dict[str, SpotTraceData] = field(default_factory=dict)
    spot_advice: dict[str, SpotAdvice] = field(default_factory=dict)
    token_means: dict[str, TokenMeans] = field(default_factory=dict)
    token_models: dict[str, TokenModelInputs] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def attempt(self, load: Callable[[], Any], *, where: str | None = None) -> Any:
        """Return ``load()``, or None after recording its ScenarioError (or, prefixed by
        ``where``, its CatalogError) as a problem."""
        try:
            return load()
        except ScenarioError as exc:
            self.problems.append(str(exc))
        except CatalogError as exc:
            if where is None:
                raise
            self.problems.append(f"{where}: {exc}")
        return None

    def put(self, into: dict[str, Any], name: str, value: Any) -> None:
        """Store a loaded value (None: nothing loaded, or a problem already recorded)."""
        if value is not None:
            into[name] = value


def load_scenario_inputs(scenario: Scenario, *,
                         catalog: PriceCatalog | None = None) -> ScenarioInputs:
    """Load every table and trace a scenario points to, reporting all problems at once.

    Also looks up the Spot Advisor band of each design with ``spot.interruptions: {kind:
    advisor}`` and no ``band``, in the bundled snapshot (:mod:`costmodels.spot_advisor`), and
    checks that the price catalog knows each design's instance, or the scenario prices it
    (:func:`instance_problem`).

    Parameters
    ----------
    scenario : Scenario
        A validated scenario.
    catalog : PriceCatalog, optional
        The catalog the scenario is priced from (default
        :func:`costmodels.price_cache.default_catalog`, what :func:`planner.run.run_scenario`
        uses by default).

    Raises
    ------
    ScenarioError
        One message, starting with the scenario's file (or name), listing every file problem
        and every instance that cannot be priced.
    """
    got = _Collected()
    for i, workload in enumerate(scenario.workloads):
        _load_workload(got, scenario, i, workload)
    for i, design in enumerate(scenario.designs):
        _load_service_time(got, scenario, i, design)
        _load_spot(got, scenario, i, design)
    billing = got.attempt(lambda: load_billing_rates(scenario.pricing))
    if billing is not None or scenario.pricing.source != "billing":  # else: already a problem
        catalog = catalog if catalog is not None else default_catalog()
        for i, design in enumerate(scenario.designs):
            fleet = design.fleet
            found = instance_problem(fleet.instance, fleet.region, catalog=catalog,
                                     pricing=scenario.pricing, billing=billing,
                                     purchase=getattr(fleet, "purchase", "on_demand"),
                                     field_path=f"designs[{i}].fleet.instance")
            if found is not None:
                got.problems.append(found)
    if got.problems:
        label = scenario.source_path or scenario.name
        noun = "problem" if len(got.problems) == 1 else "problems"
        body = "\n".join(f"  - {p}" for p in got.problems)
        raise ScenarioError(f"{label}: {len(got.problems)} {noun} in the files this scenario "
                            f"points to or the instances it prices:\n{body}")
    return ScenarioInputs(service_tables=MappingProxyType(got.tables),
                          traces=MappingProxyType(got.traces),
                          spot_traces=MappingProxyType(got.spot_traces),
                          spot_advice=MappingProxyType(got.spot_advice),
                          token_means=MappingProxyType(got.token_means),
                          token_models=MappingProxyType(got.token_models),
                          billing_rates=billing)


def instance_problem(instance: str, region: str | None, *, catalog: PriceCatalog,
                     pricing: Pricing, billing: BillingRates | None, purchase: str,
                     field_path: str) -> str | None:
    """Return the problem line of an instance nobody can price, or None when it can be priced.

    An instance is accepted when ``catalog`` lists it (in any region: a missing region or
    purchase option is a priced-as-n/a note, not an error), when ``pricing.effective_rates``
    gives a rate for it (any purchase option; in ``region`` or with no region, as
    :func:`planner.pricing.quotes_for` matches them), or when the billing exports of ``pricing:
    {source: billing}`` show its usage. Otherwise the line names ``field_path``, the value, the
    catalog's close keys (:func:`costmodels.catalog.suggest_instance_keys`) and the ways to
    price a real instance type the catalog lacks (``purchase`` is the one shown there).
    """
    if catalog.has_instance(instance):
        return None
    if any(rate.instance == instance and rate.region in (None, region)
           for rate in pricing.effective_rates):
        return None
    instance_type = instance.partition(":")[2]
    if billing is not None and any(billing.rate(instance_type, region, option) is not None
                                   for option in PURCHASE_OPTIONS):
        return None
    hint = did_you_mean(suggest_instance_keys(catalog, instance))
    return (f"{field_path}: unknown instance type, not in the price catalog ({catalog.label}, "
            f"{catalog.as_of}) (got {instance!r}); {hint + '; ' if hint else ''}fix the name "
            f"(`planner prices list` lists the known instances) or, if {instance} is a real "
            f"instance type the catalog lacks, {price_sources_hint(instance, purchase, region)}")


def _load_workload(got: _Collected, scenario: Scenario, i: int, workload) -> None:
    """A workload's token means and arrival trace."""
    where = f"workloads[{i}]"
    got.put(got.token_means, workload.name,
            got.attempt(lambda: load_token_means(workload, field_path=where)))
    if isinstance(getattr(workload, "arrivals", None), TraceArrivals):
        got.put(got.traces, workload.name, got.attempt(lambda: load_trace(
            workload.arrivals, field_path=f"{where}.arrivals", horizon_s=scenario.horizon_s)))


def _load_service_time(got: _Collected, scenario: Scenario, i: int, design) -> None:
    """A design's measured service-time table or token model."""
    spec = getattr(design, "service_time", None)
    where = f"designs[{i}].service_time"
    if isinstance(spec, TableServiceTime):
        got.put(got.tables, design.name, got.attempt(lambda: load_service_table(
            spec, field_path=where, max_batch=design.batching.max_batch)))
    if isinstance(spec, TokenServiceTime):
        got.put(got.token_models, design.name, got.attempt(lambda: load_token_model(
            spec, scenario.workload(design.workload), field_path=where)))
    latency = getattr(design, "latency", None)
    if isinstance(latency, (ProfileLatency, AutoLatency)):
        got.put(got.token_models, design.name, got.attempt(lambda: load_token_model(
            latency, scenario.workload(design.workload), field_path=f"designs[{i}].latency",
            model=design.model_name)))


def _load_spot(got: _Collected, scenario: Scenario, i: int, design) -> None:
    """A design's spot capacity trace, or its Spot Advisor band when the scenario gives none."""
    fleet = design.fleet
    spot = getattr(fleet, "spot", None)
    interruptions = None if spot is None else spot.interruptions
    where = f"designs[{i}].fleet.spot.interruptions"
    if isinstance(interruptions, TraceInterruptions):
        got.put(got.spot_traces, design.name, got.attempt(lambda: load_spot_trace(
            interruptions, field_path=where, horizon_s=scenario.horizon_s,
            max_spot_nodes=fleet.n_node_slots - fleet.on_demand_base)))
    elif isinstance(interruptions, AdvisorInterruptions) and interruptions.band is None:
        got.put(got.spot_advice, design.name, got.attempt(
            lambda: lookup_band(fleet.instance_type, fleet.region or DEFAULT_REGION),
            where=where))
