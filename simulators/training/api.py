"""Training-job simulation: one gang-scheduled GPU job on on-demand, spot or reserved capacity.

The Numba kernel (``simulators/training/_kernel.py``) and the SimPy model
(``simulators/training/reference.py``) both implement the contract below; the tests hold them
to it and to Young/Daly's closed forms, which live in this module too.

Semantics (the contract)
------------------------
* **Work.** A job needs ``gpu_hours`` on a gang of ``G = nodes x gpus_per_node`` GPUs: its
  compute is ``W = 3600 gpu_hours / G`` seconds of wall time on the whole gang.  The gang runs or
  stops as one: an interruption of any node stops every node.
* **Segments and checkpoints.** The compute is cut into segments of ``checkpoint_interval_s``
  (the last may be shorter) and every segment ends with a checkpoint that takes
  ``checkpoint_cost_s`` (paid, no progress); the last one is the save of the final model, so a
  run writes ``ceil(W / interval)`` checkpoints and finishes when its last checkpoint is
  written.  ``checkpoint_interval_s=None``: one segment of ``W`` and no checkpoint (an
  interruption loses everything; ``checkpoint_cost_s`` must then be 0).
* **Start-up.** At submission (t = 0) the gang is provisioned (a constant delay, or a sum of
  lognormal :class:`~simulators.core.fleet.DelayComponent` parts drawn per start) and then pays
  ``restart_overhead_s`` (load the model or checkpoint) before compute begins.
* **Interruptions.** While the gang is on its submitted purchase option, interruptions arrive as
  a Poisson process of rate ``nodes x interruptions_per_node_hour`` (per hour), at every moment
  of the run: during provisioning, compute, checkpoints and recoveries alike (a node being
  provisioned counts as exposed, a simplification).  ``spot`` and ``on_demand`` (hardware
  failures) may have a rate; ``reserved`` has none.  An interruption throws away the compute
  and any checkpoint in progress since the last completed checkpoint; the gang then recovers:
  ``replacement_delay_s`` (a new node) then ``restart_overhead_s``.  An interruption during a
  recovery starts the recovery again (restarts can fail, as in Daly's formula).
* **Billing.** Node-seconds are counted from launch (provisioning included) to the end of the
  run.  The gang is billed as ``nodes`` nodes the whole time it is held: the surviving nodes stay
  paid through a recovery and the replacement is billed from its launch at the interruption (a
  small over-count, at most ``replacement_delay_s`` node-seconds per interruption).  Reserved
  capacity is paid for the reserved window, ``reserved_hours`` per run, whether used or not; any
  time a run outlasts its window is billed on-demand.  ``reserved_hours=None`` = a reservation
  sized to the run's wall time.
* **Fallback (spot only).** The rest of the run moves to on-demand nodes (spot billing stops,
  on-demand billing starts, one provisioning draw plus ``restart_overhead_s``, no interruptions
  afterwards, resume from the last checkpoint):

  - at the ``fallback_after_interruptions``-th spot interruption (so a run never sees more than
    K spot interruptions), and/or
  - with ``fallback_near_deadline``, at an interruption or a completed checkpoint when
    ``now + E[provisioning] + restart_overhead_s + remaining compute and checkpoints +
    fallback_margin_s >= deadline_s`` (at a checkpoint nothing is lost).
* **Deadline.** ``deadline_s`` counts from submission; a run meets it when it finishes at or
  before it.
* **Recurrence.** ``n_runs`` runs per replication are independent samples (each starts from
  its own submission; with a recurring job the period is assumed to be longer than a run).
  Costs per replication are summed over its runs; time distributions pool every run.
* **Replications** run in parallel, each from the stream ``(seed, replication)``, so results do
  not depend on the thread count.  Events at exactly equal times have probability zero; the
  kernel lets a phase that ends exactly at an interruption complete.

Young/Daly: :func:`young_daly_interval_s` is Young's ``sqrt(2 C M)``;
:func:`daly_expected_time_s` is Daly's expected wall time with exponential failures and
failing restarts, ``M e^{R/M} (e^{(tau + C)/M} - 1) W / tau``, which is exact for the semantics
above (with ``R = replacement_delay_s + restart_overhead_s``) after the first start.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from domain.errors import SimulationError
from simulators.core.fleet import DelayComponent
from simulators.core.result import ReplicatedRuns, columns_record
from simulators.training import _kernel as tk
from simulators.training.checkpoints import (
    _non_negative,
    _positive,
    _segments,
    daly_expected_time_s,
)

__all__ = [
    "SimulationError",
    "TrainingRuns",
    "TrainingSimResult",
    "simulate_training",
]

PURCHASES = tk.PURCHASE_NAMES


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TrainingRuns:
    """Per-run outputs of the training kernel, float64[R, n_runs] each.

    One field per column the kernel keeps; a field ``x`` is the kernel's ``O_X`` column.
    """

    completion_s: np.ndarray
    node_s_on_demand: np.ndarray
    node_s_spot: np.ndarray
    node_s_reserved: np.ndarray
    productive_s: np.ndarray
    checkpoint_s: np.ndarray
    lost_s: np.ndarray
    restart_s: np.ndarray
    n_interruptions: np.ndarray
    fell_back: np.ndarray
    fallback_at_s: np.ndarray
    completed: np.ndarray

    @classmethod
    def from_runs(cls, array: np.ndarray) -> TrainingRuns:
        """Return the record of a float64[R, n_runs, N_OUT] kernel ``runs`` array (copies)."""
        return columns_record(cls, array, tk, "O_")


@dataclass(frozen=True)
class TrainingSimResult(ReplicatedRuns):
    """Output of :func:`simulate_training`: one row per (replication, run).

    Attributes
    ----------
    gpu_hours : float
        Work of one run (GPU-hours).
    nodes, gpus_per_node : int
        Gang shape.
    purchase : str
        Submitted purchase option (``on_demand``, ``spot`` or ``reserved``).
    work_s : float
        Compute of one run on the whole gang, ``3600 gpu_hours / G`` (s).
    deadline_s : float or None
        Deadline from submission (s).
    seed : int
        Scenario seed.
    runs : float64[R, n_runs, N_OUT]
        Raw kernel output, indexed by ``simulators.training._kernel.O_*``; read it by name
        through :meth:`run_record`.
    inputs : dict
        Every argument of :func:`simulate_training` as resolved (provisioning as
        ``(median_s, sigma)`` pairs), for reports and reproduction.
    """

    gpu_hours: float
    nodes: int
    gpus_per_node: int
    purchase: str
    work_s: float
    deadline_s: float | None
    seed: int
    runs: np.ndarray = field(repr=False)
    inputs: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def gpus(self) -> int:
        """Return the gang size ``G`` (GPUs)."""
        return self.nodes * self.gpus_per_node

    def run_record(self) -> TrainingRuns:
        """Return the per-run outputs as a typed record (float64[R, n_runs] fields)."""
        return TrainingRuns.from_runs(self.runs)

    def completion_time_s(self) -> np.ndarray:
        """Return float64[R, n_runs]: submission to finish of every run (s)."""
        return self.column(tk.O_COMPLETION_S)

    def mean_completion_time_s(self) -> np.ndarray:
        """Return float64[R]: mean completion time over the runs of each replication (s)."""
        return self.runs[:, :, tk.O_COMPLETION_S].mean(axis=1)

    def completion_time_percentiles_s(self, quantiles: Sequence[float] | np.ndarray
                                      ) -> np.ndarray:
        """Return float64[k]: completion-time quantiles over every run of every replication.

        Nearest rank (``inverted_cdf``), so each value is a simulated completion time.
        """
        q = np.asarray(quantiles, dtype=np.float64)
        if q.size and (np.any(q < 0) or np.any(q > 1)):
            raise SimulationError(f"quantiles must lie in [0, 1] (got {q.tolist()}); "
                                     "pass fractions such as 0.5 or 0.99")
        return np.quantile(self.runs[:, :, tk.O_COMPLETION_S].ravel(), q,
                           method="inverted_cdf")

    def deadline_met(self) -> np.ndarray | None:
        """Return bool[R, n_runs]: whether each run finished by the deadline (None: none)."""
        if self.deadline_s is None:
            return None
        return self.runs[:, :, tk.O_COMPLETION_S] <= self.deadline_s

    def deadline_probability(self) -> float | None:
        """Return the share of all runs that met the deadline (None without a deadline)."""
        met = self.deadline_met()
        return None if met is None else float(met.mean())

    def node_seconds_by_purchase(self) -> dict[str, np.ndarray]:
        """Return ``{"on_demand", "spot", "reserved"}`` -> float64[R] node-seconds (runs summed).

        These are the billed (allocated) node-seconds; multiply by a node's hourly price / 3600.
        """
        cols = (tk.O_NODE_S_ON_DEMAND, tk.O_NODE_S_SPOT, tk.O_NODE_S_RESERVED)
        return {name: self.runs[:, :, c].sum(axis=1) for name, c in zip(PURCHASES, cols)}

    def allocated_gpu_s(self) -> np.ndarray:
        """Return float64[R]: billed GPU-seconds, all purchase options (runs summed)."""
        return sum(self.node_seconds_by_purchase().values()) * self.gpus_per_node

    def productive_gpu_s(self) -> np.ndarray:
        """Return float64[R]: GPU-seconds of compute that counted (``G W`` per finished run)."""
        return self.runs[:, :, tk.O_PRODUCTIVE_S].sum(axis=1) * self.gpus

    def busy_gpu_s(self) -> np.ndarray:
        """Return float64[R]: GPU-seconds computing, productive or later lost (runs summed)."""
        busy = self.runs[:, :, tk.O_PRODUCTIVE_S] + self.runs[:, :, tk.O_LOST_S]
        return busy.sum(axis=1) * self.gpus

    def utilization(self) -> np.ndarray:
        """Return float64[R]: busy over allocated GPU-seconds."""
        return self.busy_gpu_s() / self.allocated_gpu_s()

    def checkpoint_s(self) -> np.ndarray:
        """Return float64[R, n_runs]: wall seconds writing checkpoints."""
        return self.column(tk.O_CHECKPOINT_S)

    def lost_compute_s(self) -> np.ndarray:
        """Return float64[R, n_runs]: wall seconds of compute thrown away (re-done)."""
        return self.column(tk.O_LOST_S)

    def restart_s(self) -> np.ndarray:
        """Return float64[R, n_runs]: wall seconds provisioning, replacing and restarting."""
        return self.column(tk.O_RESTART_S)

    def n_interruptions(self) -> np.ndarray:
        """Return int64[R, n_runs]: interruptions per run."""
        return self.runs[:, :, tk.O_N_INTERRUPTIONS].astype(np.int64)

    def fell_back(self) -> np.ndarray:
        """Return bool[R, n_runs]: whether each run moved to on-demand."""
        return self.runs[:, :, tk.O_FELL_BACK] > 0.5

    def fallback_at_s(self) -> np.ndarray:
        """Return float64[R, n_runs]: time of the fallback (nan when none)."""
        return self.column(tk.O_FALLBACK_AT_S)

    def waste_fraction(self) -> np.ndarray:
        """Return float64[R]: ``1 - productive / wall time``, runs summed (start-up included)."""
        wall = self.runs[:, :, tk.O_COMPLETION_S].sum(axis=1)
        return 1.0 - self.runs[:, :, tk.O_PRODUCTIVE_S].sum(axis=1) / wall


# --------------------------------------------------------------------------- simulation


def simulate_training(gpu_hours: float, nodes: int, gpus_per_node: int, purchase: str,
                      n_replications: int, seed: int, *,
                      interruptions_per_node_hour: float = 0.0,
                      checkpoint_interval_s: float | None = None, checkpoint_cost_s: float = 0.0,
                      restart_overhead_s: float = 0.0,
                      provisioning: float | DelayComponent | Sequence[DelayComponent] = 0.0,
                      replacement_delay_s: float = 0.0,
                      fallback_after_interruptions: int | None = None,
                      fallback_near_deadline: bool = False, fallback_margin_s: float = 0.0,
                      deadline_s: float | None = None, reserved_hours: float | None = None,
                      n_runs: int = 1) -> TrainingSimResult:
    """Simulate a gang-scheduled training job; see the module docstring for the semantics.

    Parameters
    ----------
    gpu_hours : float
        Work of one run (GPU-hours, > 0).
    nodes, gpus_per_node : int
        Gang shape (>= 1 each).
    purchase : str
        ``"on_demand"``, ``"spot"`` or ``"reserved"``.
    n_replications, seed : int
        Independent replications (>= 1) and the scenario seed (>= 0).
    interruptions_per_node_hour : float
        Poisson interruption rate of one node (1/h); not allowed for ``reserved``.
    checkpoint_interval_s : float or None
        Compute between checkpoints (s); None = never checkpoint.
    checkpoint_cost_s : float
        Time to write one checkpoint (s).
    restart_overhead_s : float
        Model / checkpoint load at every (re)start (s).
    provisioning : float, DelayComponent or sequence of DelayComponent
        Delay from launch to running (s): a constant, or lognormal parts summed per start.
    replacement_delay_s : float
        Interruption to replacement node running (s).
    fallback_after_interruptions : int or None
        Spot only: move to on-demand at this interruption (>= 1).
    fallback_near_deadline : bool
        Spot only, needs ``deadline_s``: move to on-demand when finishing there would just make
        the deadline (see the module docstring).
    fallback_margin_s : float
        Safety margin of the near-deadline rule (s).
    deadline_s : float or None
        Deadline from submission (s).
    reserved_hours : float or None
        Reserved only: window paid per run (h); None = the run's wall time.
    n_runs : int
        Independent runs per replication (a recurring job).

    Returns
    -------
    TrainingSimResult

    Raises
    ------
    SimulationError
        (a ``ValueError``) naming the parameter, its bad value and a fix.
    """
    _check_job(gpu_hours, nodes, gpus_per_node, purchase, n_replications, n_runs, seed)
    prov = _check_options(purchase, interruptions_per_node_hour, checkpoint_interval_s,
                          checkpoint_cost_s, restart_overhead_s, replacement_delay_s,
                          fallback_margin_s, provisioning, fallback_after_interruptions,
                          deadline_s, fallback_near_deadline, reserved_hours)
    work_s, cost, out = _run_training_kernel(
        gpu_hours, nodes, gpus_per_node, purchase, n_replications, seed,
        interruptions_per_node_hour, checkpoint_interval_s, checkpoint_cost_s, restart_overhead_s,
        prov, replacement_delay_s, fallback_after_interruptions, fallback_near_deadline,
        fallback_margin_s, deadline_s, reserved_hours, n_runs)
    return TrainingSimResult(
        gpu_hours=float(gpu_hours), nodes=int(nodes), gpus_per_node=int(gpus_per_node),
        purchase=purchase, work_s=work_s,
        deadline_s=None if deadline_s is None else float(deadline_s), seed=int(seed), runs=out,
        inputs=_inputs_record(
            gpu_hours, nodes, gpus_per_node, purchase, n_replications, seed,
            interruptions_per_node_hour, checkpoint_interval_s, cost, restart_overhead_s, prov,
            replacement_delay_s, fallback_after_interruptions, fallback_near_deadline,
            fallback_margin_s, deadline_s, reserved_hours, n_runs))


def _check_job(gpu_hours, nodes, gpus_per_node, purchase, n_replications, n_runs,
               seed) -> None:
    """Check the work, gang shape, purchase option, replication / run counts and seed."""
    _positive("gpu_hours", gpu_hours)
    _count("nodes", nodes)
    _count("gpus_per_node", gpus_per_node)
    if purchase not in PURCHASES:
        raise SimulationError(
            f"purchase must be one of {', '.join(PURCHASES)} (got {purchase!r}); pick one of them")
    _count("n_replications", n_replications)
    _count("n_runs", n_runs)
    if not isinstance(seed, Integral) or isinstance(seed, bool) or seed < 0:
        raise SimulationError(f"seed must be an integer >= 0 (got {seed!r}); pass e.g. 0")


def _check_options(purchase, interruptions_per_node_hour, checkpoint_interval_s,
                   checkpoint_cost_s, restart_overhead_s, replacement_delay_s,
                   fallback_margin_s, provisioning, fallback_after_interruptions, deadline_s,
                   fallback_near_deadline, reserved_hours) -> np.ndarray:
    """Check the interruption, checkpoint, delay and fallback options; return the provisioning."""
    _non_negative("interruptions_per_node_hour", interruptions_per_node_hour)
    if purchase == "reserved" and interruptions_per_node_hour > 0:
        raise SimulationError(
            f"interruptions_per_node_hour must be 0 for reserved capacity (got "
            f"{interruptions_per_node_hour}); set it to 0 or model failures with on_demand")
    if checkpoint_interval_s is not None:
        _positive("checkpoint_interval_s", checkpoint_interval_s)
    _non_negative("checkpoint_cost_s", checkpoint_cost_s)
    if checkpoint_interval_s is None and checkpoint_cost_s > 0:
        raise SimulationError(
            f"checkpoint_cost_s must be 0 when checkpoint_interval_s is None (got "
            f"{checkpoint_cost_s}); set checkpoint_interval_s or drop checkpoint_cost_s")
    _non_negative("restart_overhead_s", restart_overhead_s)
    _non_negative("replacement_delay_s", replacement_delay_s)
    _non_negative("fallback_margin_s", fallback_margin_s)
    prov = _provisioning_array(provisioning)
    if fallback_after_interruptions is not None:
        if (not isinstance(fallback_after_interruptions, Integral)
                or isinstance(fallback_after_interruptions, bool)
                or fallback_after_interruptions < 1):
            raise SimulationError(
                f"fallback_after_interruptions must be an integer >= 1 or None (got "
                f"{fallback_after_interruptions!r}); pass e.g. 3, or None for no limit")
        if purchase != "spot":
            raise SimulationError(
                f"fallback_after_interruptions applies to spot only (purchase is {purchase!r}); "
                "drop it or use purchase='spot'")
    if deadline_s is not None:
        _positive("deadline_s", deadline_s)
    if fallback_near_deadline:
        if purchase != "spot":
            raise SimulationError(
                f"fallback_near_deadline applies to spot only (purchase is {purchase!r}); "
                "drop it or use purchase='spot'")
        if deadline_s is None:
            raise SimulationError(
                "fallback_near_deadline needs deadline_s (got None); set deadline_s")
    if reserved_hours is not None:
        _positive("reserved_hours", reserved_hours)
        if purchase != "reserved":
            raise SimulationError(
                f"reserved_hours applies to reserved capacity only (purchase is {purchase!r}); "
                "drop it or use purchase='reserved'")
    return prov


def _run_training_kernel(gpu_hours, nodes, gpus_per_node, purchase, n_replications, seed,
                         interruptions_per_node_hour, checkpoint_interval_s, checkpoint_cost_s,
                         restart_overhead_s, prov, replacement_delay_s,
                         fallback_after_interruptions, fallback_near_deadline,
                         fallback_margin_s, deadline_s, reserved_hours, n_runs
                         ) -> tuple[float, float, np.ndarray]:
    """Prepare the kernel's arguments and run it; return ``(work_s, checkpoint cost, runs)``."""
    gpus = int(nodes) * int(gpus_per_node)
    work_s = 3600.0 * float(gpu_hours) / gpus
    n_seg, seg, last = _segments(work_s, checkpoint_interval_s)
    cost = float(checkpoint_cost_s) if checkpoint_interval_s is not None else 0.0
    rate_per_s = int(nodes) * float(interruptions_per_node_hour) / 3600.0
    if purchase == "reserved":
        rate_per_s = 0.0
    _check_finishes(work_s, checkpoint_interval_s, cost, replacement_delay_s + restart_overhead_s,
                    rate_per_s, fallback_after_interruptions, fallback_near_deadline)
    mean_prov = float(sum(m * math.exp(0.5 * s * s) for m, s in prov))

    out = tk.training_kernel(
        tk.PURCHASE_NAMES.index(purchase), int(nodes), rate_per_s, n_seg, seg, last, cost,
        float(restart_overhead_s), float(replacement_delay_s), prov, mean_prov,
        int(fallback_after_interruptions or 0), bool(fallback_near_deadline),
        float(fallback_margin_s), math.inf if deadline_s is None else float(deadline_s),
        -1.0 if reserved_hours is None else 3600.0 * float(reserved_hours), int(n_runs),
        int(n_replications), int(seed))
    if not np.all(out[:, :, tk.O_COMPLETED] > 0.5):
        raise SimulationError(
            f"a run hit {tk.MAX_INTERRUPTIONS_PER_RUN:,} interruptions without finishing; "
        "checkpoint more often or set fallback_after_interruptions")
    return work_s, cost, out


def _inputs_record(gpu_hours, nodes, gpus_per_node, purchase, n_replications, seed,
                   interruptions_per_node_hour, checkpoint_interval_s, cost, restart_overhead_s,
                   prov, replacement_delay_s, fallback_after_interruptions,
                   fallback_near_deadline, fallback_margin_s, deadline_s, reserved_hours,
                   n_runs) -> dict:
    """Return the ``inputs`` record of a ``TrainingSimResult``."""
    return {
        "gpu_hours": float(gpu_hours), "nodes": int(nodes),
        "gpus_per_node": int(gpus_per_node), "purchase": purchase,
        "n_replications": int(n_replications), "seed": int(seed),
        "interruptions_per_node_hour": float(interruptions_per_node_hour),
        "checkpoint_interval_s": checkpoint_interval_s, "checkpoint_cost_s": cost,
        "restart_overhead_s": float(restart_overhead_s),
        "provisioning": [tuple(row) for row in prov.tolist()],
        "replacement_delay_s": float(replacement_delay_s),
        "fallback_after_interruptions": fallback_after_interruptions,
        "fallback_near_deadline": bool(fallback_near_deadline),
        "fallback_margin_s": float(fallback_margin_s), "deadline_s": deadline_s,
        "reserved_hours": reserved_hours, "n_runs": int(n_runs)}


# --------------------------------------------------------------------------- helpers


def _check_finishes(work_s, interval_s, cost_s, recovery_s, rate_per_s, fallback_after,
                    near_deadline) -> None:
    """Raise when runs would need far more interruptions than the kernel's cap allows."""
    if rate_per_s <= 0 or fallback_after is not None or near_deadline:
        return
    mtbf = 1.0 / rate_per_s
    expected = daly_expected_time_s(work_s, interval_s, cost_s, recovery_s, mtbf)
    if not expected / mtbf < tk.MAX_INTERRUPTIONS_PER_RUN / 10:
        raise SimulationError(
            f"checkpoint_interval_s={interval_s}: a run would expect {expected / mtbf:.3g} "
            f"interruptions (gang MTBF {mtbf:.6g} s) and practically never finish; checkpoint "
            "more often, lower the rate or set fallback_after_interruptions")


def _provisioning_array(provisioning) -> np.ndarray:
    """Return float64[m, 2] rows (median_s, sigma) from the ``provisioning`` argument."""
    if isinstance(provisioning, DelayComponent):
        parts: Sequence = (provisioning,)
    elif isinstance(provisioning, (int, float)) and not isinstance(provisioning, bool):
        _non_negative("provisioning", provisioning)
        return np.array([[float(provisioning), 0.0]])
    elif isinstance(provisioning, Sequence) and not isinstance(provisioning, str):
        parts = provisioning
    else:
        raise SimulationError(
            f"provisioning must be seconds, a DelayComponent or a sequence of them (got "
            f"{provisioning!r}); pass e.g. 300.0 or DelayComponent.from_p95('boot', 240, 600)")
    rows = []
    for i, c in enumerate(parts):
        if not isinstance(c, DelayComponent):
            raise SimulationError(
                f"provisioning[{i}] must be a DelayComponent (got {c!r}); build it with "
                "DelayComponent.from_p95(name, median_s, p95_s)")
        if not (math.isfinite(c.median_s) and c.median_s >= 0 and math.isfinite(c.sigma)
                and c.sigma >= 0):
            raise SimulationError(
                f"provisioning[{i}] ({c.name}) needs median_s >= 0 and sigma >= 0 (got "
                f"{c.median_s}, {c.sigma}); fix the component")
        rows.append((float(c.median_s), float(c.sigma)))
    if not rows:
        return np.zeros((1, 2))
    return np.array(rows, dtype=np.float64)


def _count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise SimulationError(f"{name} must be an integer >= 1 (got {value!r}); pass e.g. 1")
