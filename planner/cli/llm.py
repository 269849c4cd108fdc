"""``planner llm``: the LLM latency model from the command line.

``llm latency`` prints one step's time for a model on a GPU; ``llm fit`` fits the model's
efficiency and overhead terms to a measured token profile; ``llm replay`` replays a recorded
engine run and compares measured and predicted TTFT, TPOT and E2E (``--fit`` calibrates the
terms to the run). Semantics: ``docs/latency-model.md``.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from planner.cli import options
from planner.cli.common import EXIT_USAGE, emit, stderr_console, user_errors

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


class Phase(str, Enum):
    """Phases of an engine step."""

    prefill = "prefill"
    decode = "decode"


class TableFormat(str, Enum):
    """Formats the ``llm`` commands render in."""

    table = "table"
    json = "json"


class Dtype(str, Enum):
    """Weight and KV-cache data types."""

    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"


MODEL = typer.Option(..., "--model", "-m", help="A catalog model (e.g. llama-3.1-8b, "
                     "mixtral-8x7b, qwen3-30b-a3b) or the path of a Hugging Face config.json.")
GPU = typer.Option(..., "--gpu", "-g", help="The GPU, by common name, case-insensitive: H100, "
                   "H200, 'RTX 4090', 'NVIDIA H100 80GB HBM3', MI300X, ...")
FIT = typer.Option(None, "--latency-fit", help="Latency-model fit file (JSON from 'planner llm fit' or "
                   "'planner llm replay --fit'); default: the bundled H100 fit.", dir_okay=False)
FORMAT = typer.Option(TableFormat.table, "--format", "-f", case_sensitive=False,
                      help="Output format.")


def _usage(message: str) -> typer.Exit:
    stderr_console().print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


@app.command("latency")
def latency(
    model: str = MODEL,
    gpu: str = GPU,
    phase: Phase = typer.Option(..., "--phase", case_sensitive=False,
                                help="prefill (prompt tokens) or decode (one token a sequence)."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="Sequences in the step."),
    tokens: int = typer.Option(1, "--tokens", "-t", min=1, help="Prompt tokens per sequence "
                               "(prefill; decode steps take one token a sequence)."),
    context: int = typer.Option(0, "--context", "-c", min=0, help="Tokens already in each "
                                "sequence's KV cache."),
    tensor_parallel: int = typer.Option(1, "--tensor-parallel", "--tp", min=1,
                                        help="GPUs per replica."),
    dtype: Dtype = typer.Option(Dtype.bf16, "--dtype", case_sensitive=False,
                                help="Weight data type (fp8: W8A8 on GPUs with FP8 tensor "
                                     "cores)."),
    kv_dtype: Dtype | None = typer.Option(None, "--kv-dtype", case_sensitive=False,
                                          help="KV-cache data type (default: --dtype)."),
    fit: Path | None = FIT,
    fmt: TableFormat = FORMAT,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Print the time (ms) of one engine step of MODEL on GPU, with its breakdown."""
    from planner.inputs_llm import load_fit, load_model
    from planner.json_schemas import LLM_LATENCY_VERSION
    from simulators.core.gpus import GPU_SPECS, resolve_gpu
    from simulators.core.latency_model import Hardware, Shape, step_time
    from simulators.core.llm_models import dtype_bytes

    if phase is Phase.decode and tokens != 1:
        raise _usage(f"--tokens {tokens} applies to prefill only: a decode step adds one token "
                     "a sequence; drop --tokens or use --phase prefill")
    with user_errors(debug):
        spec = load_model(model)
        key = resolve_gpu(gpu)
        hw = GPU_SPECS[key]
        terms = load_fit(str(fit) if fit else None)
        kv = kv_dtype or dtype
        fp8 = dtype is Dtype.fp8 and bool(hw.fp8_tflops)
        t = step_time(Shape.of(spec), Hardware.of(hw), terms, phase=phase.value, batch=batch,
                      tokens=tokens, context=context, tp=tensor_parallel,
                      weight_bytes=dtype_bytes(dtype.value), kv_bytes=dtype_bytes(kv.value),
                      fp8_compute=fp8)
        per_gpu = spec.weight_bytes(dtype.value) / tensor_parallel / 1e9
        out = {"schema_version": LLM_LATENCY_VERSION, "kind": "llm-latency",
               "model": spec.name, "gpu": hw.name, "gpu_key": key, "phase": phase.value,
               "batch": batch, "tokens": tokens if phase is Phase.prefill else 1,
               "context": context, "tensor_parallel": tensor_parallel, "dtype": dtype.value,
               "kv_dtype": kv.value, **t.as_dict(),
               "weights_gb_per_gpu": round(per_gpu, 3),
               "fits_memory": per_gpu < hw.memory_gib,
               "fit": terms.source,
               "measured_or_derived": "derived: FLOPs and bytes from the model's shape, peaks "
                                      "from the GPU datasheet; fitted: efficiencies and "
                                      "per-layer overhead"}
        if fmt is TableFormat.json:
            emit(json.dumps(out, indent=2), None)
            return
        b = out["breakdown_ms"]
        lines = [f"{spec.name} on {hw.name}" + (f" x {tensor_parallel}" if tensor_parallel > 1
                                                else "")
                 + f", {phase.value}: batch {batch}"
                 + (f", {tokens} tokens" if phase is Phase.prefill else "")
                 + f", context {context}",
                 f"  step time   {t.ms:10.3f} ms",
                 f"  GEMMs       {b['gemm']:10.3f} ms  ({t.gemm_bound}-bound)",
                 f"  attention   {b['attention']:10.3f} ms  ({t.attention_bound}-bound)",
                 f"  all-reduce  {b['allreduce']:10.3f} ms",
                 f"  logits      {b['logits']:10.3f} ms",
                 f"  overheads   {b['overhead']:10.3f} ms",
                 f"  weights {per_gpu:.1f} GB per GPU of {hw.memory_gib:g} GB"
                 + ("" if out["fits_memory"] else "  (DO NOT FIT: raise --tensor-parallel)"),
                 f"  fit: {terms.source}",
                 "  engine host time per step is not included (see 'planner llm replay')"]
        emit("\n".join(lines), None)


@app.command("fit")
def fit_profile(
    profile: Path = typer.Argument(..., help="Token-latency profile CSV (the layout of "
                                   "'planner profile' and the bundled H100 profile).",
                                   dir_okay=False),
    gpu: str | None = typer.Option(None, "--gpu", "-g", help="The GPU it was measured on "
                                   "(default: the CSV's gpu column)."),
    out: Path | None = typer.Option(None, "--output", "-o", "--out",
                                    help="Write the fit (JSON) to this file; scenarios use it "
                                         "as latency: {kind: auto, fit: FILE} (--out is the "
                                         "old name).", dir_okay=False),
    fmt: TableFormat = FORMAT,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Fit the latency model's efficiencies and per-layer overhead to a measured profile."""
    import polars as pl

    from planner.inputs_llm import load_model
    from planner.inputs_tokens import read_token_profile
    from planner.json_schemas import LATENCY_FIT_VERSION
    from simulators.core.gpus import GPU_SPECS, resolve_gpu
    from simulators.core.latency_fit import fit_latency

    with user_errors(debug):
        from domain.errors import ScenarioError

        try:
            head = pl.read_csv(profile, columns=["gpu", "model"], infer_schema_length=0)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise ScenarioError(f"{profile}: not a readable profile CSV with gpu and model "
                                f"columns ({str(exc).splitlines()[0]})") from None
        models = list(dict.fromkeys(head["model"].drop_nulls().to_list()))
        gpus = set(head["gpu"].drop_nulls().to_list())
        if gpu is None and len(gpus) != 1:
            raise ScenarioError(f"{profile}: the gpu column holds {sorted(gpus)}; fit one GPU "
                                "at a time (pass --gpu and a file of that GPU's rows)")
        key = resolve_gpu(gpu or next(iter(gpus)))
        measured = [(load_model(m), read_token_profile(str(profile), m,
                                                       field_path=f"profile {profile.name}"))
                    for m in models]
        report = fit_latency(measured, GPU_SPECS[key], source=profile.name)
        data = {"schema_version": LATENCY_FIT_VERSION, "kind": "latency-fit",
                **report.as_dict()}
        if out is not None:
            emit(json.dumps(data, indent=2), out)
        if fmt is TableFormat.json:
            emit(json.dumps(data, indent=2), None)
            return
        f = report.fit
        lines = [f"fitted to {profile.name} on {GPU_SPECS[key].name}:",
                 f"  GEMM efficiency       {f.gemm_efficiency:.3f}",
                 f"  attention efficiency  {f.attention_efficiency:.3f}",
                 f"  weight streaming      {f.weight_efficiency:.3f}",
                 f"  KV streaming          {f.kv_efficiency:.3f}",
                 f"  per-layer overhead    {f.layer_overhead_us:.1f} µs",
                 "error per model (predicted vs measured step time):"]
        lines += [f"  {e.model:<16} median {e.median_abs_pct:5.1f} %   max {e.max_abs_pct:5.1f} %"
                  f"   ({e.rows} steps)" for e in report.errors]
        lines += [f"note: {n}" for n in report.notes]
        if out is not None and not quiet:
            lines.append(f"wrote {out}")
        emit("\n".join(lines), None)


@app.command("replay")
def replay(
    run_dir: Path = typer.Argument(..., help="A recorded engine run: a folder with "
                                   "requests.jsonl and meta.json.", file_okay=False),
    model: str | None = typer.Option(None, "--model", "-m", help="Override meta.json's model "
                                     "(catalog name or config.json)."),
    gpu: str | None = typer.Option(None, "--gpu", "-g", help="The run's GPU (needed when "
                                   "meta.json names none), e.g. 'RTX PRO 6000'."),
    fit: Path | None = FIT,
    host_overhead_ms: float | None = typer.Option(
        None, "--host-overhead-ms", min=0, help="Engine host time per step (default 1 ms, an "
        "estimate from vLLM's own benchmark; docs/latency-model.md)."),
    fit_out: Path | None = typer.Option(None, "--fit", dir_okay=False, metavar="OUT.json",
                                        help="Calibrate: fit the GEMM and attention efficiencies "
                                             "and the host time per step to this run and write "
                                             "them (JSON) here."),
    fmt: TableFormat = FORMAT,
    quiet: bool = options.QUIET,
    debug: bool = options.DEBUG,
) -> None:
    """Replay a recorded engine run; print measured vs predicted TTFT, TPOT and E2E."""
    from planner.inputs_llm import load_fit, load_fit_file
    from planner.llm_replay import (
        fit_engine_run,
        markdown_table,
        read_engine_run,
        replay_document,
        replay_engine_run,
        run_gpu,
        run_model,
    )
    from simulators.core.latency_model import DEFAULT_HOST_OVERHEAD_MS

    with user_errors(debug):
        run = read_engine_run(str(run_dir))
        spec = run_model(run, model)
        key = run_gpu(run, gpu)
        terms = load_fit(str(fit) if fit else None)
        host = host_overhead_ms
        if host is None:
            host = load_fit_file(str(fit)).host_overhead_ms if fit else None
        if host is None:
            host = DEFAULT_HOST_OVERHEAD_MS
        if fit_out is not None:
            if not quiet:
                stderr_console().print("fitting to the run (a few dozen replays) ...")
            calibrated = fit_engine_run(run, spec, key, terms, host_overhead_ms=host)
            emit(json.dumps(calibrated.as_dict(), indent=2), fit_out)
            result = calibrated.after
            data = {**replay_document(result), "before_fit": calibrated.before.as_dict(),
                    "wrote": str(fit_out)}
        else:
            result = replay_engine_run(run, spec, key, terms, host_overhead_ms=host)
            data = replay_document(result)
        if fmt is TableFormat.json:
            emit(json.dumps(data, indent=2), None)
            return
        text = [f"replay of {run.name}: {result.requests} requests, {result.model} on "
                f"{result.gpu}", "", markdown_table(result), "",
                f"predicted from: {result.derivation}"]
        if fit_out is not None:
            text += ["", "before the fit:", markdown_table(calibrated.before), "",
                     f"wrote {fit_out} (use it as latency: {{kind: auto, fit: {fit_out}}})"]
        emit("\n".join(text), None)


def register(root: typer.Typer) -> None:
    """Add ``planner llm`` to the root app."""
    root.add_typer(app, name="llm", help="The LLM step-latency model: time one step, fit it to "
                   "a measured profile, replay a recorded engine run.")
