"""Read the token files of an LLM design: a measured token-latency profile and token counts.

Part of the input layer (:mod:`planner.inputs`).  :func:`read_token_profile` reads a profile
CSV (``../shared/data/gpu-profiles/h100_llm_token_latency.csv``), checks it row by row and hands
the measurements to :func:`simulators.core.tokens.token_profile`, which builds the interpolating
:class:`~simulators.core.tokens.TokenProfile`; :func:`read_token_samples` reads per-request
prompt and output token counts from a trace (e.g. the Azure LLM inference trace 2023).  Every
problem raises :class:`~domain.errors.ScenarioError` naming the scenario field path, the file,
the line (the CSV header is line 1), the column, the value and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import polars as pl

from domain.errors import ScenarioError, SimulationError
from planner.inputs_common import ROW, numbers, read_csv, require_column
from planner.schema import (
    AutoLatency,
    InferenceWorkload,
    ProfileLatency,
    TokenCounts,
    TokenServiceTime,
)
from simulators.core.tokens import TokenProfile, token_profile

__all__ = ["TokenMeans", "TokenModelInputs", "load_token_means", "load_token_model",
           "mean_token_samples", "read_token_profile", "read_token_samples"]

_PROFILE_COLUMNS = ("gpu", "model", "phase", "batch", "new_tokens_per_sequence",
                    "context_tokens", "mean_ms")
_PROFILE_NUMBERS = ("batch", "new_tokens_per_sequence", "context_tokens", "mean_ms")


@dataclass(frozen=True, eq=False)
class TokenModelInputs:
    """The measured token profile of a design (None when the latency model derives the step
    times) and the token counts it is driven by."""

    profile: TokenProfile | None
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    tokens_source: str


@dataclass(frozen=True)
class TokenMeans:
    """Mean tokens per request of a workload, and where they come from."""

    prompt_tokens: float
    output_tokens: float
    source: str

    @property
    def per_request(self) -> float:
        """Prompt + output tokens per request."""
        return self.prompt_tokens + self.output_tokens


def load_token_model(spec: TokenServiceTime | ProfileLatency | AutoLatency,
                     workload: InferenceWorkload, *, field_path: str,
                     model: str | None = None) -> TokenModelInputs:
    """Load a design's token profile (none for ``kind: auto``) and the workload's token counts
    (trace rows or means).

    ``model`` names the profile's rows when ``spec`` has none (an llm design's ``model``).
    """
    profile = None
    if not isinstance(spec, AutoLatency):
        name = getattr(spec, "model", None) or model
        assert name is not None  # the schema requires a model on one of the two
        profile = read_token_profile(spec.path, name, field_path=field_path)
    t = workload.tokens
    assert t is not None  # the schema requires tokens with a token service time
    if t.prompt_column is not None or t.output_column is not None:
        path = workload.arrivals.path  # type: ignore[union-attr]
        prompt, output = read_token_samples(path, t.prompt_column or "ContextTokens",
                                            t.output_column or "GeneratedTokens",
                                            field_path=field_path)
        source = f"{prompt.size:,} requests of {os.path.basename(path)}"
    else:
        prompt, output, source = mean_token_samples(t)
    return TokenModelInputs(profile, prompt, output, source)


TOKEN_SAMPLES = 20_000
"""Samples drawn from a token distribution given by its means (a fixed seed: the same scenario
gives the same samples)."""


def mean_token_samples(t: TokenCounts) -> tuple[np.ndarray, np.ndarray, str]:
    """Return per-request prompt and output token samples for token means and their
    distribution (constant when none is given), and a line saying what they are."""
    means = (max(float(t.prompt_tokens or 0.0), 1.0), max(float(t.output_tokens or 0.0), 1.0))
    d = t.distribution
    if d is None or d.kind == "constant":
        p, o = (np.array([max(round(m), 1)], dtype=np.int64) for m in means)
        return p, o, (f"the workload's token means as constants ({int(p[0])} prompt, "
                      f"{int(o[0])} output tokens per request)")
    rng = np.random.default_rng(20_231_113)
    out = []
    for mean in means:
        if d.kind == "exponential":  # geometric on 1, 2, ... with this mean
            x = rng.geometric(1.0 / mean, TOKEN_SAMPLES) if mean > 1 else np.ones(TOKEN_SAMPLES)
        else:
            sigma = np.sqrt(np.log1p(d.cv**2))
            x = np.maximum(np.rint(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma,
                                                 TOKEN_SAMPLES)), 1)
        out.append(np.asarray(x, dtype=np.int64))
    shape = "geometric" if d.kind == "exponential" else f"lognormal (cv {d.cv:g})"
    return out[0], out[1], (f"{TOKEN_SAMPLES:,} {shape} samples around the workload's means "
                            f"({means[0]:g} prompt, {means[1]:g} output tokens)")


def load_token_means(workload: InferenceWorkload, *, field_path: str) -> TokenMeans | None:
    """Return the workload's mean tokens per request (None when it declares no tokens).

    Means given in the scenario are used as they are; trace columns are read from the
    workload's arrival trace and averaged over every row.

    Raises
    ------
    ScenarioError
        A missing column, or a value that is not a number >= 0 (with its line).
    """
    t = getattr(workload, "tokens", None)
    if t is None:
        return None
    if t.prompt_column is None and t.output_column is None:
        return TokenMeans(t.prompt_tokens or 0.0, t.output_tokens or 0.0,
                          "scenario means per request")
    path = workload.arrivals.path  # type: ignore[union-attr]  # the schema checks trace arrivals
    wanted = tuple(c for c in (t.prompt_column, t.output_column) if c is not None)
    frame = read_csv(path, field_path=f"{field_path}.arrivals.path", columns=wanted)
    means = []
    for name, column in (("prompt_column", t.prompt_column), ("output_column", t.output_column)):
        if column is None:
            means.append(0.0)
            continue
        require_column(frame, column, path, f"{field_path}.tokens.{name}")
        values = numbers(frame, column, path, field_path=f"{field_path}.tokens.{name}")
        if (values < 0).any():
            i = int(np.flatnonzero(values < 0)[0])
            raise ScenarioError(f"{field_path}.tokens.{name}: line {i + 2} of {path}, column "
                                f"{column!r}: a token count must be >= 0 (got {values[i]:g}); "
                                "fix that row")
        means.append(float(values.mean()) if values.size else 0.0)
    return TokenMeans(means[0], means[1], f"means of {', '.join(wanted)} over the "
                      f"{frame.height:,} rows of {os.path.basename(path)}")


# ---------------------------------------------------------------------------------------------
# The token-latency profile


def read_token_profile(path: str, model: str, *, field_path: str) -> TokenProfile:
    """Read a token-latency profile CSV and return the :class:`TokenProfile` of ``model``.

    Parameters
    ----------
    path : str
        CSV with columns ``gpu, model, phase, batch, new_tokens_per_sequence, context_tokens,
        mean_ms`` (others, such as ``method``, ``dtype``, ``max_ms``, are ignored).  Prefill rows:
        ``phase=prefill``, ``batch=1``, ``new_tokens_per_sequence`` = prompt tokens.  Decode rows:
        ``phase=decode``, ``new_tokens_per_sequence=1``, ``context_tokens`` = KV-cache length.
    model : str
        Value of the ``model`` column to select (e.g. ``"llama-3-8b"``).
    field_path : str
        Where the path sits in the scenario, e.g. ``designs[0].service_time``; starts messages.

    Raises
    ------
    ScenarioError
        Missing or unreadable file, missing column, unknown model, a bad cell (named by file
        line), duplicates, or too few grid points to interpolate.
    """
    if not os.path.isfile(path):
        raise ScenarioError(f"{field_path}: token profile {path} does not exist; pass the path "
                            f"of a CSV such as ../shared/data/gpu-profiles/"
                            f"h100_llm_token_latency.csv")
    rows = _profile_rows(path, model, field_path=field_path)
    nums = {c: _profile_numbers(path, rows, c, field_path=field_path) for c in _PROFILE_NUMBERS}
    lines = rows[ROW].to_numpy() + 2
    phase = rows["phase"].to_numpy()
    _check_cells(path, lines, phase, nums, field_path=field_path)
    pre, dec = phase == "prefill", phase == "decode"
    tokens = nums["new_tokens_per_sequence"]
    _check_unique(path, lines[pre], tokens[pre, None], "new_tokens_per_sequence of prefill rows",
                  field_path=field_path)
    _check_unique(path, lines[dec], np.column_stack((nums["batch"], nums["context_tokens"]))[dec],
                  "(batch, context_tokens) of decode rows", field_path=field_path)
    try:
        return token_profile(
            model, rows["gpu"][0], prefill_tokens=tokens[pre], prefill_ms=nums["mean_ms"][pre],
            decode_batch=nums["batch"][dec], decode_context=nums["context_tokens"][dec],
            decode_ms=nums["mean_ms"][dec], source=str(path))
    except SimulationError as exc:
        raise ScenarioError(f"{field_path}: {exc}") from None


def _profile_rows(path: str, model: str, *, field_path: str) -> pl.DataFrame:
    """Return the rows of ``model``: all columns present, one GPU named in every row."""
    frame = read_csv(path, field_path=field_path, columns=_PROFILE_COLUMNS)
    missing = [c for c in _PROFILE_COLUMNS if c not in frame.columns]
    if missing:
        raise ScenarioError(f"{field_path}: {path}: missing column(s) {missing}; the file needs "
                            f"{list(_PROFILE_COLUMNS)}")
    rows = frame.filter(pl.col("model") == model)
    if rows.height == 0:
        models = sorted(frame["model"].drop_nulls().unique().to_list())
        raise ScenarioError(f"{field_path}: {path}: no rows for model={model!r}; models in the "
                            f"file: {models}")
    no_gpu = rows["gpu"].is_null() | (rows["gpu"].str.strip_chars() == "")
    if no_gpu.any():
        line = int(rows[ROW][int(no_gpu.arg_max())]) + 2
        raise ScenarioError(f"{field_path}: {path} line {line}: column gpu is empty; name the "
                            f"GPU the row was measured on")
    gpus = rows["gpu"].unique(maintain_order=True).to_list()
    if len(gpus) != 1:
        raise ScenarioError(f"{field_path}: {path}: model {model!r} has rows for several GPUs "
                            f"{gpus}; split the file by GPU")
    return rows


def _profile_numbers(path: str, rows: pl.DataFrame, column: str, *,
                     field_path: str) -> np.ndarray:
    values = rows[column].str.strip_chars().cast(pl.Float64, strict=False)
    bad = values.is_null() | ~values.is_finite().fill_null(False)
    if bad.any():
        i = int(bad.arg_max())
        raise ScenarioError(
            f"{field_path}: {path} line {rows[ROW][i] + 2}: column {column} must be a number "
            f"(got {rows[column][i]!r}); fix or remove that row")
    return values.to_numpy()


def _check_cells(path: str, lines, phase, nums, *, field_path: str) -> None:
    rules = [
        (~np.isin(phase, ["prefill", "decode"]), "phase", phase, "use 'prefill' or 'decode'"),
        (nums["mean_ms"] <= 0, "mean_ms", nums["mean_ms"], "times must be > 0 ms"),
        (nums["batch"] < 1, "batch", nums["batch"], "batch must be >= 1"),
        ((phase == "prefill") & (nums["batch"] != 1), "batch", nums["batch"],
         "prefill rows must be single-sequence (batch=1); batched prefill is derived"),
        ((phase == "prefill") & (nums["new_tokens_per_sequence"] < 1), "new_tokens_per_sequence",
         nums["new_tokens_per_sequence"], "a prefill row needs >= 1 prompt token"),
        ((phase == "decode") & (nums["new_tokens_per_sequence"] != 1), "new_tokens_per_sequence",
         nums["new_tokens_per_sequence"], "decode rows time one new token per sequence (1)"),
        ((phase == "decode") & (nums["context_tokens"] < 1), "context_tokens",
         nums["context_tokens"], "a decode row needs a KV cache of >= 1 token"),
    ]
    for bad, column, values, fix in rules:
        if bad.any():
            i = int(np.argmax(bad))
            raise ScenarioError(f"{field_path}: {path} line {lines[i]}: {column}="
                                f"{_show(values[i])} is invalid; {fix}")


def _check_unique(path: str, lines, keys: np.ndarray, what: str, *, field_path: str) -> None:
    """Refuse repeated grid points (rows of ``keys``), naming the lines that repeat one."""
    _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup = keys[first[np.argmax(counts > 1)]]
        at = [int(x) for x in lines[(keys == dup).all(axis=1)]]
        raise ScenarioError(f"{field_path}: {path}: duplicate {what} at lines {at}; keep one row "
                            f"per grid point (average repeated measurements first)")


def _show(value) -> str:
    """Return a cell as a user wrote it: ``4`` not ``4.0``, strings quoted."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


# ---------------------------------------------------------------------------------------------
# Per-request token counts


def read_token_samples(path: str, prompt_column: str = "ContextTokens",
                       output_column: str = "GeneratedTokens", *,
                       field_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the prompt and output token counts (int64[n] each) of a request trace CSV.

    Every row must hold a whole number ``>= 1`` in both columns (the Azure LLM inference trace
    2023 does: prompts 2 to 14,050 tokens, outputs 6 to 1,899).

    Raises
    ------
    ScenarioError
        Missing or unreadable file, missing column, no rows, or a cell that is not a whole
        number >= 1 (with its line).
    """
    if not os.path.isfile(path):
        raise ScenarioError(f"{field_path}: token trace {path} does not exist; pass a CSV such as "
                            f"../shared/data/traces/azure_llm_inference_2023/"
                            f"AzureLLMInferenceTrace_conv.csv")
    frame = read_csv(path, field_path=field_path, columns=(prompt_column, output_column))
    out = []
    for column in (prompt_column, output_column):
        if column not in frame.columns:
            columns = [c for c in frame.columns if c != ROW]
            raise ScenarioError(f"{field_path}: {path}: no column {column!r} (columns: "
                                f"{columns}); pass prompt_column= / output_column= to name them")
        values = frame[column].str.strip_chars().cast(pl.Float64, strict=False)
        bad = (values.is_null() | ~values.is_finite() | (values < 1)
               | (values.round(0) != values)).fill_null(True)
        if bad.any():
            i = int(bad.arg_max())
            raise ScenarioError(f"{field_path}: {path} line {i + 2}: {column}="
                                f"{frame[column][i]!r} is not a whole number >= 1; fix or drop "
                                f"that row")
        out.append(values.to_numpy().astype(np.int64))
    if out[0].size == 0:
        raise ScenarioError(f"{field_path}: {path} has no rows; a token trace needs at least one "
                            f"request")
    return out[0], out[1]
