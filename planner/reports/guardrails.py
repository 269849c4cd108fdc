"""CI guardrails: ``--fail-if`` breach conditions and a monthly budget, checked without eval.

Grammar (whitespace between tokens is optional)::

    guardrail := [DESIGN ":"] METRIC OP NUMBER
    OP        := "<" | "<=" | ">" | ">=" | "==" | "!="
    METRIC    := a key of DesignResult.flat_metrics(), e.g. p99_ms, usd_per_month
    NUMBER    := a decimal or scientific literal, e.g. 150, 0.99, 1e4, 12_000

An expression names a *breach*: ``p99_ms > 150`` fails the run when a checked design's p99 is
above 150 ms. A metric that is unknown (None) for a checked design is a breach too: the guardrail
cannot be proven to hold. A cost metric of a design whose cost is incomplete is a lower bound; it
breaches unless the lower bound alone proves the condition false.

Some metrics belong to one pattern: ``ttft_p99_ms``, ``tpot_p99_ms``, ``goodput_rps`` ... only
LLM designs report them (:data:`planner.patterns.llm.LLM_METRIC_NAMES`). Without a design prefix
such a guardrail checks the checked designs whose pattern reports it (a static-batching design
has no TTFT to breach); naming a metric that no checked design's pattern reports is a usage
error, found before simulating.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.errors import PlannerError
from planner.results import LATENCY_KEYS, RunResult

BASE_METRICS: tuple[str, ...] = (
    *(f"{k}_ms" for k in LATENCY_KEYS),
    "slo_attainment", "utilization", "throughput_rps", "node_hours",
    "total_usd", "usd_per_month", "usd_per_hour", "usd_per_1k_requests",
    "usd_per_1k_requests_busy", "usd_per_1m_tokens", "usd_per_1m_tokens_busy",
    "usd_per_1m_input_tokens", "usd_per_1m_input_tokens_busy", "usd_per_1m_output_tokens",
    "usd_per_1m_output_tokens_busy", "usd_per_run", "usd_per_run_busy", "preemptions",
    "dropped_requests",
)
"""Metrics every design has (:meth:`DesignResult.flat_metrics` without pattern metrics)."""

COST_METRICS = frozenset(m for m in BASE_METRICS if m.startswith("usd_") or m == "total_usd")
"""Metrics that are a lower bound when a design's cost is incomplete."""


OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}

_EXPRESSION = re.compile(
    r"""^\s*(?:(?P<design>[^:<>=!]+?)\s*:\s*)?
    (?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*
    (?P<op><=|>=|==|!=|<|>)\s*
    (?P<number>[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$""",
    re.VERBOSE,
)


class GuardrailError(PlannerError):
    """A guardrail expression is malformed or names an unknown metric or design (a usage error)."""


@dataclass(frozen=True)
class Guardrail:
    """One parsed ``--fail-if`` expression: breach when ``metric op threshold``."""

    text: str
    metric: str
    op: str
    threshold: float
    design: str | None = None

    def breached_by(self, value: float) -> bool:
        """Return whether ``value`` satisfies the breach condition."""
        return OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True)
class Breach:
    """A guardrail a design breaches (or cannot be proven to hold), with a message for people."""

    design: str
    metric: str
    value: float | None
    rule: str
    message: str


def fmt_value(value: float) -> str:
    """Return a number compactly: ``182.4``, ``0.9987``, ``12,345.67``."""
    if abs(value) >= 1000:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.6g}"


def _suggest(name: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_guardrail(text: str) -> Guardrail:
    """Parse ``[DESIGN:]METRIC OP NUMBER`` without evaluating anything.

    Raises
    ------
    GuardrailError
        When the expression does not follow the grammar or the number is not finite.
    """
    match = _EXPRESSION.match(text)
    if match is None:
        raise GuardrailError(
            f"--fail-if {text!r} is not 'METRIC OP NUMBER' or 'DESIGN:METRIC OP NUMBER' with OP "
            "one of < <= > >= == !=; write e.g. --fail-if 'p99_ms > 150' or "
            "--fail-if 'fraud-rt:usd_per_month > 20000'")
    threshold = float(match["number"])
    if not math.isfinite(threshold):
        raise GuardrailError(f"--fail-if {text!r}: the number must be finite")
    return Guardrail(text=text.strip(), metric=match["metric"], op=match["op"],
                     threshold=threshold, design=match["design"])


def parse_guardrails(texts: Sequence[str]) -> list[Guardrail]:
    """Parse every expression (see :func:`parse_guardrail`)."""
    return [parse_guardrail(t) for t in texts]


def check_guardrails(
    guardrails: Sequence[Guardrail],
    *,
    design_names: Sequence[str],
    selected: Sequence[str] = (),
    metric_names: Iterable[str] | None = BASE_METRICS,
    design_patterns: Mapping[str, str] | None = None,
) -> None:
    """Check that every guardrail names a known metric and design, before simulating.

    Parameters
    ----------
    guardrails : the parsed ``--fail-if`` expressions.
    design_names : the scenario's designs.
    selected : the ``--design`` names (checked against ``design_names``).
    metric_names : the valid metrics; None skips the metric check (when the scenario has
        patterns whose extra metrics are only known after simulating).
    design_patterns : each design's pattern; when given, a guardrail must name a metric that
        the pattern of its design (with a prefix) or of at least one checked design reports.

    Raises
    ------
    GuardrailError
        Naming the expression, what is wrong and the valid names (with the closest one).
    """
    for name in selected:
        if name not in design_names:
            raise GuardrailError(
                f"--design {name!r} is not a design of the scenario{_suggest(name, design_names)}; "
                f"designs: {', '.join(design_names)}")
    valid = None if metric_names is None else list(metric_names)
    for g in guardrails:
        if g.design is not None and g.design not in design_names:
            raise GuardrailError(
                f"--fail-if {g.text!r}: design {g.design!r} is not in the scenario"
                f"{_suggest(g.design, design_names)}; designs: {', '.join(design_names)}")
        if valid is not None and g.metric not in valid:
            raise GuardrailError(
                f"--fail-if {g.text!r}: unknown metric {g.metric!r}{_suggest(g.metric, valid)}"
                f"{_owners_hint(g.metric)}; metrics: {', '.join(valid)}")
        if design_patterns is not None:
            _check_applies(g, design_patterns, selected or design_names)


def _pattern_metrics(pattern: str) -> tuple[str, ...]:
    """Return the metrics designs of ``pattern`` report: every design's plus its own."""
    return known_metrics([pattern]) or BASE_METRICS


def _owners(metric: str) -> list[str]:
    """Return the patterns whose designs report ``metric`` beyond the common ones."""
    from planner.patterns import PATTERNS

    return [name for name, entry in PATTERNS.items() if metric in entry.metric_names]


def _owners_hint(metric: str) -> str:
    owners = _owners(metric)
    if not owners:
        return ""
    return (f" (a metric of {' and '.join(owners)} designs, and the scenario has none; use one "
            "of the metrics below)")


def _check_applies(g: Guardrail, design_patterns: Mapping[str, str],
                   checked: Sequence[str]) -> None:
    """Raise when no design the guardrail checks reports its metric."""
    targets = [g.design] if g.design is not None else list(checked)
    if any(g.metric in _pattern_metrics(design_patterns[n]) for n in targets
           if n in design_patterns):
        return
    which = ", ".join(f"{n} ({design_patterns.get(n)})" for n in targets)
    owners = _owners(g.metric)
    raise GuardrailError(
        f"--fail-if {g.text!r}: {g.metric!r} is a metric of "
        f"{' and '.join(owners) or 'other'} designs only, and the checked design(s) "
        f"{which} do not report it; check a design that does"
        + ("" if g.design is not None else ", e.g. 'DESIGN:" + g.text.strip() + "'"))


def known_metrics(patterns: Iterable[str]) -> tuple[str, ...] | None:
    """Return the metrics valid before simulating designs of ``patterns``: every design's
    metrics plus the pattern metrics of those patterns (``PATTERNS[p].metric_names`` of
    :data:`planner.patterns.PATTERNS`)."""
    from planner.patterns import PATTERNS  # the registry imports every pattern's simulator

    extra: list[str] = []
    for p in patterns:
        entry = PATTERNS.get(p)
        names = () if entry is None else entry.metric_names
        extra.extend(m for m in names if m not in extra)
    return (*BASE_METRICS, *(m for m in extra if m not in BASE_METRICS))


def evaluate_guardrails(
    result: RunResult,
    guardrails: Sequence[Guardrail] = (),
    *,
    designs: Sequence[str] = (),
    budget_usd_per_month: float | None = None,
) -> list[Breach]:
    """Return every breach of ``guardrails`` and the budget by the checked designs.

    Parameters
    ----------
    result : the run to check.
    guardrails : parsed ``--fail-if`` expressions; one prefixed with a design checks only it.
    designs : the designs to check (``--design``); empty = every design.
    budget_usd_per_month : breach when a checked design's ``usd_per_month`` is above it,
        unknown, or incomplete and not provably within it.

    Raises
    ------
    GuardrailError
        When a metric or design is unknown to ``result`` (metrics of other patterns are only
        known after simulating).
    """
    names = [d.name for d in result.designs]
    check_guardrails(guardrails, design_names=names, selected=designs, metric_names=None)
    checked = [result.design(n) for n in designs] if designs else list(result.designs)
    breaches: list[Breach] = []
    for g in guardrails:
        if g.design is not None:
            targets = [result.design(g.design)]
        else:  # a pattern's own metric checks the designs of the patterns that report it
            targets = [d for d in checked if g.metric in d.flat_metrics()
                       or g.metric in _pattern_metrics(d.pattern)] or checked
        rule = f"fail-if {g.text!r}"
        for d in targets:
            metrics = d.flat_metrics()
            if g.metric not in metrics and g.metric not in _pattern_metrics(d.pattern):
                raise GuardrailError(
                    f"--fail-if {g.text!r}: design {d.name!r} has no metric {g.metric!r}"
                    f"{_suggest(g.metric, metrics)}; metrics: {', '.join(metrics)}")
            breach = _check(d.name, g.metric, metrics.get(g.metric), g.op, g.threshold, rule,
                            lower_bound=g.metric in COST_METRICS and d.cost.incomplete)
            if breach is not None:
                breaches.append(breach)
    if budget_usd_per_month is not None:
        rule = f"--budget-usd-per-month {fmt_value(budget_usd_per_month)}"
        for d in checked:
            breach = _check(d.name, "usd_per_month", d.cost.usd_per_month, ">",
                            budget_usd_per_month, rule, lower_bound=d.cost.incomplete)
            if breach is not None:
                breaches.append(breach)
    return breaches


def _check(design: str, metric: str, value: float | None, op: str, threshold: float, rule: str,
           *, lower_bound: bool) -> Breach | None:
    """Return the breach of ``metric op threshold`` by ``value`` (None = unknown), if any."""
    condition = f"{metric} {op} {fmt_value(threshold)}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Breach(design, metric, None, rule,
                      f"design {design}: cannot prove {condition} is false: value n/a ({rule})")
    hit = OPERATORS[op](value, threshold)
    if not lower_bound:
        if not hit:
            return None
        return Breach(design, metric, value, rule,
                      f"design {design}: {metric} = {fmt_value(value)} {op} "
                      f"{fmt_value(threshold)} ({rule})")
    # value is a lower bound of the true cost (cost incomplete): the truth lies in [value, inf).
    proven_true = value > threshold if op in (">", "!=") else value >= threshold and op == ">="
    proven_false = op in ("<", "<=", "==") and (value >= threshold if op == "<"
                                                 else value > threshold)
    if proven_false:
        return None
    if proven_true:
        return Breach(design, metric, value, rule,
                      f"design {design}: {metric} >= {fmt_value(value)} (cost incomplete, a lower "
                      f"bound) so {op} {fmt_value(threshold)} ({rule})")
    return Breach(design, metric, value, rule,
                  f"design {design}: cannot prove {condition} is false: value is only a lower "
                  f"bound, {fmt_value(value)} (cost incomplete) ({rule})")
