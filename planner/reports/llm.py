"""What every report says about SLO bounds and LLM designs: TTFT, TPOT, tokens, goodput, engine.

An SLO may have several bounds (LLM designs: TTFT, TPOT and end-to-end latency at one
percentile; :attr:`planner.results.DesignResult.slos`); every line that states a bound names the
metric it bounds (``TTFT p99 ≤ 500 ms``), and a verdict adds what was achieved
(``TTFT p99 ≤ 500 ms: met (40.28 ms)``). A design without an ``llm`` block (static batching,
other patterns) has no TTFT or TPOT: ``n/a``. Shared by the terminal table, the Markdown and
HTML reports, the ADR, the sweep report and the dashboard; every number is read from the
results object.
"""

from __future__ import annotations

from planner.reports.formatting import (
    NA,
    common_unit,
    estimates_unit,
    fmt_ms,
    fmt_number,
    fmt_pct,
    fmt_unit,
    human_ms,
    ms_in,
)
from planner.result_llm import LLM_LATENCY_KEYS
from planner.results import SLO_INCONCLUSIVE, SLO_MISSED, DesignResult, RunResult, SloResult
from planner.stats import Estimate

SLO_METRIC_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "e2e": "E2E latency"}
"""How a bound's metric reads (``latency`` reads as the design's own metric label)."""
LLM_TIMES = (("ttft", "TTFT"), ("tpot", "TPOT"))
"""The LLM-only latencies the comparison shows beside the end-to-end latency."""


def has_llm(result: RunResult) -> bool:
    """Return whether any design of ``result`` reports LLM metrics."""
    return any(d.llm is not None for d in result.designs)


def metric_name(d: DesignResult, slo: SloResult) -> str:
    """Return what ``slo`` bounds, for people: ``TTFT``, ``TPOT``, ``E2E latency``, or the
    design's own metric (``latency``, ``freshness``, ``completion time``)."""
    return SLO_METRIC_NAMES.get(slo.metric) or d.metric_label


def _bound_ms(value: float) -> str:
    return human_ms(value) if value >= 10_000 else f"{value:g} ms"


def bound_text(d: DesignResult, slo: SloResult) -> str:
    """Return one bound: ``TTFT p99 ≤ 500 ms`` (``latency p99 ≤ 50 ms``, ``freshness p95 ≤
    6.00 h``)."""
    return f"{metric_name(d, slo)} p{slo.percentile:g} ≤ {_bound_ms(slo.latency_ms)}"


def verdict_text(d: DesignResult, slo: SloResult) -> str:
    """Return one bound and how the design did: ``TTFT p99 ≤ 500 ms: met (40.28 ms)``; an
    inconclusive verdict gives the interval that straddles the bound and the replications
    that would settle it: ``latency p95 ≤ 20.00 s: inconclusive (20.02 s, 95% CI 18.80 s to
    21.25 s; ~40 replications would settle it)``."""
    a = slo.achieved_ms
    if slo.verdict != SLO_INCONCLUSIVE:
        beyond = "> " if slo is d.slo and "slo.achieved_ms" in d.saturated else ""
        return f"{bound_text(d, slo)}: {slo.verdict} ({beyond}{human_ms(a.mean)})"
    settle = slo.replications_to_settle()
    more = ("" if settle is None
            else f"; ~{settle:,} replications would settle it (now {a.n})")
    unit = common_unit((a.mean, a.low, a.high))
    return (f"{bound_text(d, slo)}: inconclusive ({ms_in(a.mean, unit)}, 95% CI "
            f"{ms_in(a.low, unit)} to {ms_in(a.high, unit)}{more})")


def bounds_text(d: DesignResult) -> str:
    """Return every bound of the design's SLO, ``; ``-separated, or ``none``."""
    return "; ".join(bound_text(d, s) for s in d.slos) or "none"


def verdicts_text(d: DesignResult) -> str:
    """Return every bound with its verdict, ``; ``-separated, or ``no SLO``."""
    return "; ".join(verdict_text(d, s) for s in d.slos) or "no SLO"


def status_text(d: DesignResult) -> str:
    """Return ``met`` (every bound), ``MISSED`` (naming the missed bounds when there are
    several), ``inconclusive`` (no bound missed, some interval straddles its bound),
    ``met (TTFT, TPOT n/a)`` when bounds the design cannot report were left unjudged
    (it is then never recommended), or ``no SLO``."""
    if not d.slos:
        return "no SLO"
    missed = [metric_name(d, s) for s in d.slos if s.verdict == SLO_MISSED]
    open_ = [metric_name(d, s) for s in d.slos if s.verdict == SLO_INCONCLUSIVE]
    if not missed and open_:
        return "inconclusive" if len(d.slos) == 1 else f"inconclusive ({', '.join(open_)})"
    if not missed:
        if d.unjudged_slo:
            return f"met ({', '.join(u.upper() for u in d.unjudged_slo)} n/a)"
        return "met"
    return "MISSED" if len(d.slos) == 1 else f"MISSED ({', '.join(missed)})"


def llm_estimate(d: DesignResult, which: str, key: str) -> Estimate | None:
    """Return the design's ``ttft``/``tpot``/``e2e`` estimate at ``key`` (None = n/a)."""
    if d.llm is None or key not in LLM_LATENCY_KEYS:
        return None
    return d.llm.latency(which)[key]


def llm_ms(d: DesignResult, which: str, key: str, *, ci: bool = False,
           unit: str | None = None) -> str:
    """Return ``40.28 ms ± 6.21 ms`` for an LLM latency (in ``unit`` when given), ``n/a`` for
    a design without one."""
    est = llm_estimate(d, which, key)
    return NA if est is None else fmt_ms(est, ci=ci, unit=unit)


def llm_unit(d: DesignResult, which: str, keys: tuple[str, ...]) -> str:
    """Return one unit for a design's ``which`` latency over ``keys`` (a row of a table)."""
    return estimates_unit(llm_estimate(d, which, k) for k in keys if k in LLM_LATENCY_KEYS)


def goodput_text(d: DesignResult) -> str:
    """Return requests/s that met every bound of the SLO, ``n/a`` without an LLM block."""
    return NA if d.llm is None else fmt_number(d.llm.goodput_rps.mean, 2)


def comparison_rows(result: RunResult) -> list[tuple[str, list[str]]]:
    """Return the comparison's LLM rows (empty when no design is an LLM design): TTFT and TPOT
    p50 and p99 (p99 with its confidence half-width), goodput, token rates."""
    if not has_llm(result):
        return []
    designs = result.designs
    rows = []
    for which, label in LLM_TIMES:
        for key in ("p50", "p99"):
            rows.append((f"{key} {label}", [
                llm_ms(d, which, key, ci=key == "p99", unit=llm_unit(d, which, ("p50", "p99")))
                for d in designs]))
    rows.append(("goodput (req/s meeting every bound)", [goodput_text(d) for d in designs]))
    rows.append(("tokens/s in, out", [NA if d.llm is None else
                                      f"{fmt_number(d.llm.input_tokens_per_s.mean, 0)}, "
                                      f"{fmt_number(d.llm.output_tokens_per_s.mean, 0)}"
                                      for d in designs]))
    return rows


def token_cost_rows(result: RunResult) -> list[tuple[str, list[str]]]:
    """Return $ per 1M input and output tokens (allocated and busy), when any design has them."""
    designs = result.designs
    if not any(d.cost.usd_per_1m_output_tokens is not None for d in designs):
        return []
    return [
        ("$/1M input tokens (allocated)", [fmt_unit(d.cost.usd_per_1m_input_tokens)
                                           for d in designs]),
        ("$/1M output tokens (allocated)", [fmt_unit(d.cost.usd_per_1m_output_tokens)
                                            for d in designs]),
        ("$/1M output tokens (busy)", [fmt_unit(d.cost.usd_per_1m_output_tokens_busy)
                                       for d in designs]),
    ]


def latency_rows(d: DesignResult, keys: tuple[str, ...], *, ci: bool = True
                 ) -> list[tuple[str, ...]]:
    """Return the TTFT and TPOT rows of an LLM design's distribution table over ``keys`` (a
    key the LLM block lacks, such as p95, is empty); none without an LLM block."""
    if d.llm is None:
        return []
    out = []
    for which, label in LLM_TIMES:
        unit = llm_unit(d, which, keys)
        out.append((label, *(llm_ms(d, which, k, ci=ci, unit=unit) if k in LLM_LATENCY_KEYS
                             else "" for k in keys)))
    return out


def engine_items(d: DesignResult) -> list[str]:
    """Return the engine block of an LLM design: settings, KV cache and where it comes from,
    step-time source, and what the engine did (empty without an LLM block)."""
    m = d.llm
    if m is None:
        return []
    e = m.engine
    prefix = f", prefix caching of {e.prefix_tokens:,} tokens" if e.prefix_tokens else ""
    return [
        (f"engine: {e.model}, tensor parallel {e.tensor_parallel} ({e.replicas_per_node} "
         f"replica(s) per node), max_num_seqs {e.max_num_seqs}, max_num_batched_tokens "
         f"{e.max_num_batched_tokens:,}, block size {e.block_size}, GPU memory utilisation "
         f"{e.gpu_memory_utilization:g}, router {e.router}{prefix}"),
        f"KV cache: {e.kv_cache_tokens:,} tokens per replica; source: {e.kv_cache_source}",
        f"step time source: {e.step_time_source}",
        (f"KV utilisation mean {fmt_pct(m.mean_kv_utilization.mean)}, peak "
         f"{fmt_pct(m.peak_kv_utilization.mean)}; running mean "
         f"{fmt_number(m.mean_running.mean)}, waiting mean {fmt_number(m.mean_waiting.mean, 3)}; "
         f"mean decode batch {fmt_number(m.mean_decode_batch.mean)}"),
        (f"tokens/s: input {fmt_number(m.input_tokens_per_s.mean, 1)}, output "
         f"{fmt_number(m.output_tokens_per_s.mean, 1)}; goodput "
         f"{fmt_number(m.goodput_rps.mean, 3)} req/s meeting every bound"),
        (f"per replication: KV preemptions {fmt_number(m.preemptions, 1)} (recomputed "
         f"{fmt_number(m.recomputed_tokens, 0)} tokens), re-routed "
         f"{fmt_number(m.rerouted_requests, 1)}, rejected {fmt_number(m.rejected_requests, 1)}"),
    ]


def token_cost_text(d: DesignResult) -> str | None:
    """Return ``$0.31 per 1M tokens ($0.42 input, $1.16 output)`` when the design has token
    costs, else None."""
    c = d.cost
    if c.usd_per_1m_tokens is None and c.usd_per_1m_output_tokens is None:
        return None
    text = f"{fmt_unit(c.usd_per_1m_tokens)} per 1M tokens"
    if c.usd_per_1m_output_tokens is not None:
        text += (f" ({fmt_unit(c.usd_per_1m_input_tokens)} per 1M input, "
                 f"{fmt_unit(c.usd_per_1m_output_tokens)} per 1M output tokens)")
    return text


def summary_text(d: DesignResult) -> str | None:
    """Return ``TTFT p99 40.28 ms, TPOT p99 8.21 ms, goodput 7.89 req/s`` for an LLM design,
    None for others."""
    if d.llm is None:
        return None
    return (f"TTFT p99 {llm_ms(d, 'ttft', 'p99')}, TPOT p99 {llm_ms(d, 'tpot', 'p99')}, "
            f"E2E p99 {llm_ms(d, 'e2e', 'p99')}, goodput {goodput_text(d)} req/s")
