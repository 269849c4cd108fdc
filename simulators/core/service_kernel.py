"""Service-time draws inside kernels: constant, exponential or lognormal per batch size."""

from __future__ import annotations

import math

from simulators.core.jit import jit
from simulators.core.rng import exponential, standard_normal

SERVICE_CONSTANT = 0
SERVICE_EXPONENTIAL = 1
SERVICE_LOGNORMAL = 2


@jit(inline="always")
def _service_time(kind, n, mean_s, mu, sigma, rng):
    """Return the service time (s) of a batch of ``n`` requests."""
    if kind == SERVICE_CONSTANT:
        return mean_s[n]
    if kind == SERVICE_EXPONENTIAL:
        return mean_s[n] * exponential(rng)
    return math.exp(mu[n] + sigma[n] * standard_normal(rng))
