"""What every pattern's simulation spec shares: the horizon, the warm-up and the replications."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSpec:
    """How long to simulate and how often.

    Arrivals stop at ``horizon_s``; statistics cover ``[warmup_s, horizon_s)``; replication
    ``k`` is seeded from ``(seed, k)``, so results do not depend on the number of threads.
    """

    horizon_s: float
    warmup_s: float
    n_replications: int
    seed: int
