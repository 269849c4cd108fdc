"""What a profile run produces: measured rows, skipped grid points, and the CSV they make.

Torch-free.  The CSV has the columns of the shipped
``../shared/data/gpu-profiles/h100_llm_token_latency.csv`` so that
:func:`planner.inputs_tokens.read_token_profile` reads it unchanged.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, field
from pathlib import Path

from domain.errors import PlannerError

COLUMNS = ("gpu", "method", "dtype", "model", "phase", "batch", "new_tokens_per_sequence",
           "context_tokens", "mean_ms", "max_ms")
"""The columns of a token-latency profile, in the shipped file's order."""


@dataclass(frozen=True)
class ProfileRow:
    """One measured grid point (one row of the CSV).

    ``phase="prefill"``: one sequence (``batch=1``) of ``new_tokens_per_sequence`` prompt
    tokens, ``context_tokens=0``.  ``phase="decode"``: one new token
    (``new_tokens_per_sequence=1``) for each of ``batch`` sequences whose KV cache holds
    ``context_tokens``.  ``mean_ms`` and ``max_ms`` are over the timed repeats.
    """

    gpu: str
    method: str
    dtype: str
    model: str
    phase: str
    batch: int
    new_tokens_per_sequence: int
    context_tokens: int
    mean_ms: float
    max_ms: float


@dataclass(frozen=True)
class SkippedPoint:
    """A grid point that was not measured, and why (it does not fit in memory)."""

    phase: str
    batch: int
    new_tokens_per_sequence: int
    context_tokens: int
    reason: str

    def label(self) -> str:
        """Return ``prefill 8192 tokens`` or ``decode batch 256 x context 8192``."""
        return point_label(self.phase, self.batch, self.new_tokens_per_sequence,
                           self.context_tokens)


@dataclass(frozen=True)
class ProfileRun:
    """The result of :func:`planner.profiling.profile_model`.

    Attributes
    ----------
    rows : list[ProfileRow]
        Measured grid points: prefill rows by prompt length, then decode rows by context and
        batch.
    skipped : list[SkippedPoint]
        Grid points left out because they do not fit in the memory budget, with the numbers.
    device : str
        ``cuda`` or ``cpu``.
    gpu : str
        The device's name (the ``gpu`` column).
    dtype : str
        The dtype of weights, activations and KV cache (the ``dtype`` column).
    memory_budget_bytes : float
        The memory the grid points were checked against.
    notes : list[str]
        Anything else worth telling (a CUDA graph that could not be captured, ...).
    """

    rows: list[ProfileRow]
    skipped: list[SkippedPoint]
    device: str
    gpu: str
    dtype: str
    memory_budget_bytes: float
    notes: list[str] = field(default_factory=list)

    def loadable_problems(self) -> list[str]:
        """Return why the planner could not build a profile from these rows (empty: it can).

        :func:`simulators.core.tokens.token_profile` needs two prompt lengths and two contexts
        with two batch sizes each.
        """
        pre = {r.new_tokens_per_sequence for r in self.rows if r.phase == "prefill"}
        batches: dict[int, set[int]] = {}
        for r in self.rows:
            if r.phase == "decode":
                batches.setdefault(r.context_tokens, set()).add(r.batch)
        out = []
        if len(pre) < 2:
            out.append(f"{len(pre)} prefill length(s) measured; the planner needs at least two")
        usable = [c for c, b in batches.items() if len(b) >= 2]
        if len(usable) < 2:
            out.append(f"{len(usable)} context length(s) with two or more batch sizes measured; "
                       "the planner needs at least two")
        thin = sorted(c for c, b in batches.items() if len(b) < 2)
        if thin:
            out.append(f"context(s) {thin} have a single batch size; the planner needs two per "
                       "context")
        return out


def point_label(phase: str, batch: int, tokens: int, context: int) -> str:
    """Return a grid point in words (``prefill 512 tokens``, ``decode batch 8 x context 2048``)."""
    if phase == "prefill":
        return f"prefill {tokens} tokens"
    return f"decode batch {batch} x context {context}"


def _ms(value: float) -> str:
    return f"{value:.4f}" if value >= 1 else f"{value:.6g}"


def profile_csv(rows: list[ProfileRow]) -> str:
    """Return ``rows`` as CSV text with the shipped profile's header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = list(astuple(row))
        values[-2:] = [_ms(row.mean_ms), _ms(row.max_ms)]
        writer.writerow(values)
    return out.getvalue()


def write_profile_csv(rows: list[ProfileRow], path: str | Path) -> Path:
    """Write ``rows`` as a token-latency profile CSV at ``path`` (parent folders created).

    Raises
    ------
    PlannerError
        The file cannot be written (the message names the path and the reason).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(profile_csv(rows), encoding="utf-8")
    except OSError as exc:
        raise PlannerError(f"cannot write {path}: {exc.strerror}; choose a writable path") \
            from None
    return path
