"""What changed between two runs, per design: ``planner diff BASE HEAD``.

Designs are matched by name; a design only in HEAD is ``added``, one only in BASE ``removed``.
For each matched design every figure is compared as ``old -> new (+x.x%)``: the latency (or
freshness, completion time) percentiles, TTFT and TPOT of LLM designs, the SLO verdict,
utilisation, the monthly cost with its 95 % half-width, and the unit costs. A value unknown on
a side stays ``n/a`` (never $0); a value equal on both sides reads ``unchanged``.

The JSON form (:meth:`RunDiff.to_dict`, ``--format json``) is versioned by
:data:`DIFF_SCHEMA_VERSION`::

    {"schema_version": 1, "kind": "diff", "planner_version": "...",
     "base": SIDE, "head": SIDE,
     "summary": {"text", "designs", "changed", "unchanged", "added", "removed",
                 "usd_per_month": {"old", "new", "delta", "pct", "left_out"},
                 "slo_now_missed", "slo_now_met", "slo_now_inconclusive"},
     "designs": [{"name", "status", "pattern": {"old", "new"}, "metric",
                  "fleet": {"old", "new", "changed"}, "batching": {"old", "new", "changed"},
                  "slo": {"old", "new", "old_text", "new_text", "change"},
                  "metrics": {KEY: {"label", "unit", "old", "new", "delta", "pct", "change",
                                    "text", ...}}}]}

SIDE is ``{"source", "input" ("results" or "scenario"), "scenario", "replications", "seed",
"results_schema_version"}``. A design's ``status`` is ``changed``, ``unchanged``, ``added`` or
``removed``. ``metrics`` are keyed by the names guardrails use (``p99_ms``, ``ttft_p99_ms``,
``utilization``, ``usd_per_month``, ``usd_per_1k_requests``, ``usd_per_1m_tokens``,
``usd_per_run``, ...); ``unit`` is ``ms``, ``fraction`` or ``usd``; ``change`` is one of
:data:`CHANGES`; ``pct`` is ``100 * (new - old) / |old|`` (null when either is unknown or old
is 0). Cost metrics add ``old_incomplete`` / ``new_incomplete`` (the value is then a lower
bound), and ``usd_per_month`` adds ``old_ci95_half_width``, ``new_ci95_half_width`` and
``within_noise`` (the change is within the combined 95 % half-widths,
:func:`planner.results.cost_tie`). The SLO ``old``/``new`` verdict is ``met``, ``MISSED``,
``inconclusive`` or null (no SLO); its ``change`` is one of :data:`SLO_CHANGES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from planner.reports.formatting import (
    NA,
    fmt_money,
    fmt_pct,
    fmt_unit,
    human_ms,
    ms_in,
    shared_unit,
)
from planner.reports.llm import status_text
from planner.reports.sections import batching_text, fleet_text, work_unit
from planner.result_llm import LLM_LATENCY_KEYS
from planner.results import (
    SCHEMA_VERSION,
    SLO_INCONCLUSIVE,
    SLO_MET,
    SLO_MISSED,
    DesignResult,
    RunResult,
    cost_tie,
)

DIFF_SCHEMA_VERSION = 1
"""Version of the diff JSON (``kind: "diff"``); bumped when a key changes meaning or goes."""

CHANGES = ("unchanged", "increased", "decreased", "now_known", "now_unknown", "unknown",
           "added", "removed")
"""How one figure changed: equal on both sides, up, down, unknown before (n/a -> value),
unknown now (value -> n/a), unknown on both sides, or the design itself added or removed."""

SLO_CHANGES = ("unchanged", "now_met", "now_missed", "now_inconclusive", "now_no_slo",
               "added", "removed")
"""How a design's SLO verdict changed (``now_no_slo``: HEAD's design has no SLO)."""

STATUSES = ("changed", "unchanged", "added", "removed")
"""A design's status in the diff."""

LATENCY_PERCENTILES = ("p50", "p90", "p99")
"""The percentiles of the design's own metric (latency, freshness, completion time) compared."""
LLM_PERCENTILES = tuple(k for k in LLM_LATENCY_KEYS if k != "mean")
"""The TTFT and TPOT percentiles compared for LLM designs."""

_REL_TOL = 1e-9
"""Two values this close (relatively) are the same figure (float noise, not a change)."""


def planner_version() -> str:
    """Return the installed package version (``0+unknown`` outside an install)."""
    try:
        return metadata.version("gpu-planner")
    except metadata.PackageNotFoundError:  # pragma: no cover - only outside an install
        return "0+unknown"


# ----------------------------------------------------------------------------- typed diff

@dataclass(frozen=True)
class Side:
    """One input of the diff: where it came from and what run it holds."""

    source: str
    input: str
    """``results`` (a results JSON) or ``scenario`` (a scenario YAML simulated for the diff)."""
    result: RunResult
    results_schema_version: int = SCHEMA_VERSION
    """The results schema the run was read in (a scenario's run: this version's)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (the run itself is not repeated)."""
        sc = self.result.scenario
        return {"source": self.source, "input": self.input, "scenario": sc.get("name"),
                "replications": sc.get("replications"), "seed": sc.get("seed"),
                "results_schema_version": self.results_schema_version}

    def describe(self) -> str:
        """``FILE (results: NAME, 4 replications, seed 7)``, ``simulated`` for a scenario."""
        sc = self.result.scenario
        run = "simulated" if self.input == "scenario" else "results"
        return (f"{self.source} ({run}: {sc.get('name')}, {sc.get('replications')} "
                f"replications, seed {sc.get('seed')})")


@dataclass(frozen=True)
class MetricChange:
    """One figure of a design on both sides, and how it changed."""

    key: str
    """The guardrail metric name (:meth:`DesignResult.flat_metrics`): ``p99_ms``, ..."""
    label: str
    unit: str
    """``ms``, ``fraction`` or ``usd``."""
    old: float | None
    new: float | None
    change: str
    old_incomplete: bool = False
    new_incomplete: bool = False
    old_half_width: float | None = None
    new_half_width: float | None = None
    within_noise: bool | None = None

    @property
    def delta(self) -> float | None:
        """``new - old`` when both are known."""
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def pct(self) -> float | None:
        """``100 * (new - old) / |old|`` when both are known and old is not 0."""
        if self.delta is None or self.old == 0:
            return None
        return 100.0 * self.delta / abs(self.old)

    def value_text(self, value: float | None, incomplete: bool = False,
                   half_width: float | None = None) -> str:
        """Return one side's value as reports show it (``n/a`` when unknown)."""
        if value is None:
            return NA
        if self.unit == "ms":  # one unit for both sides unless one would read below 1 in it
            unit = shared_unit((self.old, self.new))
            return human_ms(value) if unit is None else ms_in(value, unit)
        if self.unit == "fraction":
            return fmt_pct(value)
        text = fmt_money(value) if self.key == "usd_per_month" else fmt_unit(value)
        if half_width:  # a fixed fleet's cost has no noise: no "± $0.00"
            text += f" ± {fmt_money(half_width)}"
        return ("≥" + text) if incomplete else text

    @property
    def old_text(self) -> str:
        """BASE's value as reports show it."""
        return self.value_text(self.old, self.old_incomplete, self.old_half_width)

    @property
    def new_text(self) -> str:
        """HEAD's value as reports show it."""
        return self.value_text(self.new, self.new_incomplete, self.new_half_width)

    @property
    def text(self) -> str:
        """``old -> new (+x.x%)``, ``new (unchanged)``, ``n/a``, ``n/a -> new`` ..."""
        if self.change in ("added", "removed"):
            return f"{self.new_text if self.change == 'added' else self.old_text} ({self.change})"
        if self.change == "unknown":
            return NA
        if self.change == "unchanged":
            return f"{self.new_text} (unchanged)"
        if self.change in ("now_known", "now_unknown"):
            return f"{self.old_text} -> {self.new_text}"
        noise = ", within noise" if self.within_noise else ""
        return f"{self.old_text} -> {self.new_text} ({pct_text(self.pct)}{noise})"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        out: dict[str, Any] = {"label": self.label, "unit": self.unit, "old": self.old,
                               "new": self.new, "delta": self.delta, "pct": self.pct,
                               "change": self.change, "text": self.text}
        if self.unit == "usd":
            out.update(old_incomplete=self.old_incomplete, new_incomplete=self.new_incomplete)
        if self.key == "usd_per_month":
            out.update(old_ci95_half_width=self.old_half_width,
                       new_ci95_half_width=self.new_half_width, within_noise=self.within_noise)
        return out


def pct_text(pct: float | None) -> str:
    """Return ``+12.3%`` / ``-4.0%``, two significant digits below 0.05 % (``-0.0089%``, so a
    change never reads as 0.0 %); ``from 0`` when the old value was 0 (no ratio)."""
    if pct is None:
        return "from 0"
    if pct != 0 and abs(pct) < 0.05:
        return f"{pct:+.{min(6, 1 - math.floor(math.log10(abs(pct))))}f}%"
    return f"{pct:+.1f}%"


@dataclass(frozen=True)
class TextChange:
    """A descriptive field of a design on both sides (its fleet, its batching)."""

    old: str | None
    new: str | None
    present_old: bool = True
    present_new: bool = True

    @property
    def changed(self) -> bool:
        """Whether both sides have the design and the text differs."""
        return self.present_old and self.present_new and self.old != self.new

    @property
    def text(self) -> str:
        """``old -> new`` when changed, else the one text."""
        if self.changed:
            return f"{self.old or 'none'} -> {self.new or 'none'}"
        return (self.new if self.present_new else self.old) or "none"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"old": self.old, "new": self.new, "changed": self.changed}


@dataclass(frozen=True)
class SloChange:
    """A design's SLO verdict on both sides: ``met``, ``MISSED``, ``inconclusive`` or None."""

    old: str | None
    new: str | None
    old_text: str | None
    new_text: str | None
    change: str

    @property
    def text(self) -> str:
        """``met -> MISSED``, ``met (unchanged)``, ``no SLO``."""
        if self.change in ("added", "removed"):
            return f"{self.new_text if self.change == 'added' else self.old_text} ({self.change})"
        if self.old_text == self.new_text:
            return f"{self.new_text} (unchanged)"
        return f"{self.old_text} -> {self.new_text}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"old": self.old, "new": self.new, "old_text": self.old_text,
                "new_text": self.new_text, "change": self.change}


@dataclass(frozen=True)
class DesignChange:
    """Everything that changed for one design between BASE and HEAD."""

    name: str
    status: str
    """One of :data:`STATUSES`."""
    pattern: tuple[str | None, str | None]
    measures: str
    """What the latency percentiles measure (HEAD's, else BASE's): latency, freshness, ..."""
    fleet: TextChange
    batching: TextChange
    slo: SloChange
    metrics: tuple[MetricChange, ...]

    def metric(self, key: str) -> MetricChange | None:
        """Return the change of metric ``key`` (None when not compared)."""
        return next((m for m in self.metrics if m.key == key), None)

    @property
    def cost(self) -> MetricChange:
        """The monthly cost's change (always compared)."""
        found = self.metric("usd_per_month")
        assert found is not None
        return found

    def unit_cost_key(self) -> str:
        """The unit cost that matters most: per run (training), per 1M tokens (LLM), else per
        1k requests or records."""
        patterns = {p for p in self.pattern if p is not None}
        if "training" in patterns:
            return "usd_per_run"
        if "llm" in patterns:
            return "usd_per_1m_tokens"
        return "usd_per_1k_requests"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"name": self.name, "status": self.status,
                "pattern": {"old": self.pattern[0], "new": self.pattern[1]},
                "metric": self.measures, "fleet": self.fleet.to_dict(),
                "batching": self.batching.to_dict(), "slo": self.slo.to_dict(),
                "metrics": {m.key: m.to_dict() for m in self.metrics}}


@dataclass(frozen=True)
class CostTotal(MetricChange):
    """Total monthly cost of the designs priced completely on every side they appear on
    (``old``/``new`` None when there is none); the others are named in ``left_out``."""

    left_out: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form."""
        return {"old": self.old, "new": self.new, "delta": self.delta, "pct": self.pct,
                "left_out": list(self.left_out)}


@dataclass(frozen=True)
class RunDiff:
    """The diff of two runs: both sides and one :class:`DesignChange` per design."""

    base: Side
    head: Side
    designs: tuple[DesignChange, ...]

    def names(self, status: str) -> list[str]:
        """Return the designs of ``status`` (one of :data:`STATUSES`)."""
        return [d.name for d in self.designs if d.status == status]

    def slo_now(self, verdict: str) -> list[str]:
        """Designs on both sides whose SLO verdict became ``verdict`` (met, MISSED, ...)."""
        return [d.name for d in self.designs
                if d.slo.change == "now_" + verdict.lower() and d.status == "changed"]

    def cost_total(self) -> CostTotal:
        """Total monthly cost on each side over the designs whose cost is known and complete
        on every side they are on; the others are listed in ``left_out``."""
        def priced(d: DesignChange) -> bool:
            c = d.cost
            sides = [(c.old, c.old_incomplete)] if d.status != "added" else []
            sides += [(c.new, c.new_incomplete)] if d.status != "removed" else []
            return all(v is not None and not inc for v, inc in sides)

        counted = [d.cost for d in self.designs if priced(d)]
        old = sum(c.old or 0.0 for c in counted) if counted else None
        new = sum(c.new or 0.0 for c in counted) if counted else None
        return CostTotal("usd_per_month", "monthly cost", "usd", old, new, change_of(old, new),
                         left_out=tuple(d.name for d in self.designs if not priced(d)))

    def summary_text(self) -> str:
        """One line: ``3 designs (1 changed, ...): monthly cost $a -> $b (+$d, +x.x%); 1 SLO
        now MISSED``."""
        n = len(self.designs)
        counts = ", ".join(f"{len(self.names(s))} {s}" for s in STATUSES if self.names(s))
        head = f"{n} design{'' if n == 1 else 's'}" + (f" ({counts})" if counts else "")
        parts = [_cost_summary(self.cost_total())]
        for verdict in (SLO_MISSED, SLO_MET, SLO_INCONCLUSIVE):
            k = len(self.slo_now(verdict))
            if k:
                parts.append(f"{k} SLO{'' if k == 1 else 's'} now {verdict}")
        return f"{head}: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (see the module's docstring)."""
        return {
            "schema_version": DIFF_SCHEMA_VERSION,
            "kind": "diff",
            "planner_version": planner_version(),
            "base": self.base.to_dict(),
            "head": self.head.to_dict(),
            "summary": {
                "text": self.summary_text(),
                "designs": len(self.designs),
                **{s: self.names(s) for s in STATUSES},
                "usd_per_month": self.cost_total().to_dict(),
                "slo_now_missed": self.slo_now(SLO_MISSED),
                "slo_now_met": self.slo_now(SLO_MET),
                "slo_now_inconclusive": self.slo_now(SLO_INCONCLUSIVE),
            },
            "designs": [d.to_dict() for d in self.designs],
        }


def signed_money(value: float) -> str:
    """Return ``+$1,234.00`` / ``-$12.50``."""
    return ("-" if value < 0 else "+") + fmt_money(abs(value))


def _cost_summary(total: CostTotal) -> str:
    left = ""
    if total.left_out:
        k = len(total.left_out)
        left = (f" ({k} design{'' if k == 1 else 's'} without a complete price left out: "
                f"{', '.join(total.left_out)})")
    if total.old is None or total.new is None or total.delta is None:
        return f"monthly cost n/a{left}"
    if total.change == "unchanged":
        return f"monthly cost unchanged ({fmt_money(total.new)}){left}"
    pct = "" if total.pct is None else f", {pct_text(total.pct)}"
    return (f"monthly cost {fmt_money(total.old)} -> {fmt_money(total.new)} "
            f"({signed_money(total.delta)}{pct}){left}")


# ----------------------------------------------------------------------------- computing

def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=1e-12)


def change_of(old: float | None, new: float | None, *, present_old: bool = True,
              present_new: bool = True) -> str:
    """Return how a figure changed (one of :data:`CHANGES`)."""
    if not present_old:
        return "added"
    if not present_new:
        return "removed"
    if old is None and new is None:
        return "unknown"
    if old is None:
        return "now_known"
    if new is None:
        return "now_unknown"
    if _same(old, new):
        return "unchanged"
    return "increased" if new > old else "decreased"


def slo_verdict(d: DesignResult) -> str | None:
    """Return the design's overall verdict: ``MISSED`` if a bound is missed, else
    ``inconclusive`` if an interval straddles its bound, else ``met``; None without an SLO."""
    verdicts = [s.verdict for s in d.slos]
    if not verdicts:
        return None
    if SLO_MISSED in verdicts:
        return SLO_MISSED
    return SLO_INCONCLUSIVE if SLO_INCONCLUSIVE in verdicts else SLO_MET


def _slo_change(old: DesignResult | None, new: DesignResult | None) -> SloChange:
    vo = None if old is None else slo_verdict(old)
    vn = None if new is None else slo_verdict(new)
    to = None if old is None else status_text(old)
    tn = None if new is None else status_text(new)
    if old is None:
        change = "added"
    elif new is None:
        change = "removed"
    elif vo == vn:
        change = "unchanged"
    else:
        change = "now_no_slo" if vn is None else "now_" + vn.lower()
    return SloChange(vo, vn, to, tn, change)


Getter = Callable[[DesignResult], float | None]


def _llm_getter(which: str, key: str) -> Getter:
    return lambda d: None if d.llm is None else d.llm.latency(which)[key].mean


def _specs(old: DesignResult | None, new: DesignResult | None
           ) -> list[tuple[str, str, str, Getter]]:
    """Return ``(key, label, unit, getter)`` of every figure compared for this design."""
    sides = [d for d in (old, new) if d is not None]
    label = sides[-1].metric_label
    specs: list[tuple[str, str, str, Getter]] = [
        (f"{k}_ms", f"{label} {k}", "ms", lambda d, k=k: d.latency_ms[k].mean)
        for k in LATENCY_PERCENTILES]
    if any(d.llm is not None for d in sides):
        for which, name in (("ttft", "TTFT"), ("tpot", "TPOT")):
            specs += [(f"{which}_{k}_ms", f"{name} {k}", "ms", _llm_getter(which, k))
                      for k in LLM_PERCENTILES]
    specs.append(("utilization", "utilisation", "fraction", lambda d: d.utilization.mean))
    patterns = {d.pattern for d in sides}
    per = " or ".join(sorted({work_unit(d) for d in sides if d.pattern != "training"}))
    costs = [("usd_per_month", "cost per month", True),
             ("usd_per_1k_requests", f"$/1k {per}", bool(patterns - {"training"})),
             ("usd_per_1m_tokens", "$/1M tokens", "llm" in patterns),
             ("usd_per_1m_input_tokens", "$/1M input tokens", "llm" in patterns),
             ("usd_per_1m_output_tokens", "$/1M output tokens", "llm" in patterns),
             ("usd_per_run", "$/run", "training" in patterns)]
    specs += [(key, name, "usd", lambda d, key=key: getattr(d.cost, key))
              for key, name, always in costs  # else only where a side knows it
              if always or any(getattr(d.cost, key) is not None for d in sides)]
    return specs


def _metric_change(key: str, label: str, unit: str, get: Getter, old: DesignResult | None,
                   new: DesignResult | None) -> MetricChange:
    vo = None if old is None else get(old)
    vn = None if new is None else get(new)
    change = change_of(vo, vn, present_old=old is not None, present_new=new is not None)
    extra: dict[str, Any] = {}
    if unit == "usd":
        extra.update(old_incomplete=old is not None and old.cost.incomplete,
                     new_incomplete=new is not None and new.cost.incomplete)
    if key == "usd_per_month":
        extra.update(old_half_width=None if old is None else old.cost.usd_per_month_half_width,
                     new_half_width=None if new is None else new.cost.usd_per_month_half_width,
                     within_noise=None if old is None or new is None or change == "unchanged"
                     else cost_tie(old.cost, new.cost))
    return MetricChange(key, label, unit, vo, vn, change, **extra)


def design_change(name: str, old: DesignResult | None, new: DesignResult | None
                  ) -> DesignChange:
    """Compare one design on both sides (either may be None: the design is added/removed)."""
    if old is None and new is None:
        raise ValueError(f"design {name!r} is on neither side")
    metrics = tuple(_metric_change(*spec, old, new) for spec in _specs(old, new))
    slo = _slo_change(old, new)
    fleet, batching = (TextChange(None if old is None else text(old),
                                  None if new is None else text(new), old is not None,
                                  new is not None) for text in (fleet_text, batching_text))
    if old is None:
        status = "added"
    elif new is None:
        status = "removed"
    else:
        moved = any(m.change not in ("unchanged", "unknown") for m in metrics)
        status = "changed" if (moved or slo.change != "unchanged" or fleet.changed
                               or batching.changed or old.pattern != new.pattern
                               or slo.old_text != slo.new_text) else "unchanged"
    return DesignChange(name=name, status=status,
                        pattern=(None if old is None else old.pattern,
                                 None if new is None else new.pattern),
                        measures=(new or old).metric_label,  # type: ignore[union-attr]
                        fleet=fleet, batching=batching, slo=slo, metrics=metrics)


def diff_runs(base: Side, head: Side) -> RunDiff:
    """Return the diff of two runs: HEAD's designs in order, then those only in BASE."""
    old = {d.name: d for d in base.result.designs}
    new = {d.name: d for d in head.result.designs}
    names = list(new) + [n for n in old if n not in new]
    return RunDiff(base, head, tuple(design_change(n, old.get(n), new.get(n)) for n in names))


# ----------------------------------------------------------------------------- rendering
