"""Fit the latency model's efficiency and overhead terms to measured step times.

The measured steps are :class:`~simulators.core.tokens.TokenProfile`\\ s (one per model shape,
on one GPU: the layout of ``../shared/data/gpu-profiles/h100_llm_token_latency.csv`` and of
``planner profile``). The fit minimises the squared log-ratio of predicted to measured time
over every measured row (relative error, so a 2 ms decode step weighs as much as a 200 ms
prefill) with :func:`scipy.optimize.least_squares`, within physical bounds (efficiencies in
(0, 1], overheads >= 0). The step overhead is held at 0: the profiles are CUDA-graph replays
with no host time in them.

Identifiability: the weight-streaming efficiency and the per-layer overhead both add a constant
to every step of one shape, so one shape alone cannot tell them apart; with one shape the fit
ties the weight-streaming efficiency to the KV-streaming one (both stream device memory) and
says so in :attr:`LatencyFitReport.notes`. Two shapes or more (different layer counts and
widths) separate them.

The package ships the fit of the bundled H100 profile (:data:`BUNDLED_FIT`, read by
:func:`planner.inputs_llm.load_fit`); users refit from their own profile (``planner llm fit``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from domain.errors import SimulationError
from simulators.core.latency_model import (
    FIT_TERMS,
    Hardware,
    LatencyFit,
    Shape,
    prefill_work,
    step_parts,
)

BUNDLED_FIT = os.path.join(os.path.dirname(__file__), "data", "latency_fit.json")
"""The shipped fit (of the H100 profile of llama-3-8b and llama-3.2-1b)."""


@dataclass(frozen=True)
class MeasuredSteps:
    """The measured rows of one model's profile, flattened."""

    model: str
    phase: np.ndarray        # "prefill" / "decode"
    batch: np.ndarray
    tokens: np.ndarray       # prompt tokens per sequence (prefill), 1 (decode)
    context: np.ndarray      # cached tokens per sequence before the step
    ms: np.ndarray

    @classmethod
    def of(cls, profile) -> MeasuredSteps:
        """Return the measured rows of a :class:`~simulators.core.tokens.TokenProfile`."""
        n_pre = profile.prefill_tokens.size
        bi, ci = np.nonzero(profile.decode_measured)
        n_dec = bi.size
        return cls(
            profile.model,
            np.array(["prefill"] * n_pre + ["decode"] * n_dec),
            np.concatenate((np.ones(n_pre), profile.decode_batches[bi])),
            np.concatenate((profile.prefill_tokens, np.ones(n_dec))),
            np.concatenate((np.zeros(n_pre), profile.decode_contexts[ci])),
            np.concatenate((profile.prefill_grid_ms, profile.decode_grid_ms[bi, ci])))

    def work(self) -> dict[str, np.ndarray]:
        """Return the rows' work as :func:`~simulators.core.latency_model.step_parts` takes it."""
        pre = self.phase == "prefill"
        kv_pre, att_pre = prefill_work(self.tokens, self.context)
        dec = self.context + 1.0
        return {"tokens": self.batch * self.tokens, "logits": self.batch,
                "kv_read": self.batch * np.where(pre, kv_pre, dec),
                "attended": self.batch * np.where(pre, att_pre, dec)}


def predict_ms(steps: MeasuredSteps, model, gpu, fit: LatencyFit) -> np.ndarray:
    """Return the model's time (ms) for each measured row of ``steps`` (``model``: a
    ``ModelSpec``; ``gpu``: a ``GpuSpec``)."""
    return step_parts(Shape.of(model), Hardware.of(gpu), fit, **steps.work())["ms"]


@dataclass(frozen=True)
class ShapeError:
    """How well a fit predicts one model's measured rows (signed errors, %)."""

    model: str
    rows: int
    median_abs_pct: float
    max_abs_pct: float
    errors_pct: np.ndarray

    def as_dict(self) -> dict:
        """Return the summary as plain JSON values."""
        return {"model": self.model, "rows": self.rows,
                "median_abs_error_pct": round(self.median_abs_pct, 2),
                "max_abs_error_pct": round(self.max_abs_pct, 2)}


@dataclass(frozen=True)
class LatencyFitReport:
    """A fit, its error on each shape it was fitted to, and what it rests on."""

    fit: LatencyFit
    errors: tuple[ShapeError, ...]
    notes: tuple[str, ...]

    def as_dict(self) -> dict:
        """Return the report as plain JSON values (the layout of the shipped fit file)."""
        return {"schema_version": 1, "fit": self.fit.as_dict(),
                "errors": [e.as_dict() for e in self.errors], "notes": list(self.notes)}


def shape_error(steps: MeasuredSteps, model, gpu, fit: LatencyFit) -> ShapeError:
    """Return the signed errors of ``fit`` on ``steps``."""
    err = (predict_ms(steps, model, gpu, fit) / steps.ms - 1.0) * 100.0
    return ShapeError(steps.model, int(err.size), float(np.median(np.abs(err))),
                      float(np.abs(err).max()), err)


def fit_latency(measured, gpu, *, source: str) -> LatencyFitReport:
    """Fit the terms to measured profiles of one GPU.

    Parameters
    ----------
    measured : sequence of (ModelSpec, TokenProfile)
        Each model's shape and its measured profile (on ``gpu``).
    gpu : GpuSpec
        The GPU the profiles were measured on.
    source : str
        What the profiles are (a file name); it starts the fit's ``source``.
    """
    pairs = [(model, MeasuredSteps.of(prof)) for model, prof in measured]
    if not pairs:
        raise SimulationError(f"{source}: no measured profile to fit; measure one with "
                              "'planner profile'")
    shapes = [Shape.of(m) for m, _ in pairs]
    hw = Hardware.of(gpu)
    tied = len({(s.layers, s.hidden) for s in shapes}) < 2

    def unpack(x) -> LatencyFit:
        e_c, e_a, e_w, o_l = x[:4]
        e_kv = e_w if tied else x[4]
        return LatencyFit(float(e_c), float(e_a), float(e_w), float(e_kv), float(o_l), 0.0,
                          source)

    def residuals(x):
        fit = unpack(x)
        return np.concatenate([
            np.log(step_parts(s, hw, fit, **steps.work())["ms"] / steps.ms)
            for s, (_, steps) in zip(shapes, pairs)])

    from scipy.optimize import least_squares

    x0 = [0.6, 0.5, 0.85, 30.0] + ([] if tied else [0.9])
    lo = [0.02, 0.02, 0.05, 0.0] + ([] if tied else [0.05])
    hi = [1.0, 1.0, 1.0, 2000.0] + ([] if tied else [1.0])
    best = least_squares(residuals, x0, bounds=(lo, hi))
    fitted = unpack(best.x)
    errors = tuple(shape_error(steps, model, gpu, fitted) for model, steps in pairs)
    summary = "; ".join(f"{e.model}: median {e.median_abs_pct:.1f} %, max {e.max_abs_pct:.1f} % "
                        f"over {e.rows} steps" for e in errors)
    fit = LatencyFit(**{**{k: getattr(fitted, k) for k in FIT_TERMS},
                        "source": f"fitted to {source} on {gpu.name} ({summary})"})
    notes = [f"k = {_sharpness()} smooth roofline; step overhead held at 0 (CUDA-graph "
             "profiles have no host time)"]
    if tied:
        notes.append("one model shape: weight streaming efficiency tied to KV streaming "
                     "efficiency (one shape cannot tell it from the per-layer overhead)")
    return LatencyFitReport(fit, errors, tuple(notes))


def _sharpness() -> float:
    from simulators.core import latency_model

    return latency_model.ROOFLINE_SHARPNESS


def fit_from_dict(data, *, where: str) -> LatencyFit:
    """Return the :class:`LatencyFit` of a fit file's JSON (``{"fit": {...}}`` or the terms)."""
    terms = data.get("fit", data) if isinstance(data, dict) else None
    if not isinstance(terms, dict):
        raise SimulationError(f"{where}: expected a JSON object with the fit's terms "
                              f"{', '.join(FIT_TERMS)}; write one with 'planner llm fit'")
    missing = [k for k in FIT_TERMS if k not in terms]
    if missing:
        raise SimulationError(f"{where}: the fit lacks {', '.join(missing)}; write the file "
                              "with 'planner llm fit PROFILE.csv --out FILE'")
    try:
        return LatencyFit(**{k: float(terms[k]) for k in FIT_TERMS},
                          source=str(terms.get("source", where)))
    except (TypeError, ValueError) as exc:
        raise SimulationError(f"{where}: {exc}") from None
