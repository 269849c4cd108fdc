"""Closed-form (or exactly solved) queueing results used as test oracles.

Notation: ``lam`` is the arrival rate, ``mu`` the service rate of one server, ``c`` the number
of servers, ``a = lam / mu`` the offered load (Erlang) and ``rho = lam / (c mu)`` the
utilization.  Any consistent time unit works (the tests use seconds).  Every function requires
a stable system (``rho < 1``) and raises ``ValueError`` otherwise.

The values these functions must reproduce are tabulated in section 4.3 of
``shared/reference/simulators-and-traces.md``; ``tests/test_oracles.py`` checks them.
Standard sources: D. Gross, J. F. Shortle, J. M. Thompson and C. M. Harris, *Fundamentals of
Queueing Theory*, 4th ed., Wiley 2008 (chapters 2 and 5 for M/M/c, M/G/1 and bulk service);
L. Kleinrock, *Queueing Systems, Vol. 1*, Wiley 1975.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg

__all__ = [
    "bulk_gated_mean_wait",
    "bulk_gated_stationary",
    "bulk_join_mean_sojourn",
    "erlang_b",
    "erlang_c",
    "md1_mean_wait",
    "mg1_mean_wait",
    "mm1_sojourn_quantile",
    "mmc_mean_wait",
    "mmc_wait_quantile",
]


def _require_stable(lam: float, capacity: float, what: str) -> None:
    if not (lam >= 0.0 and capacity > 0.0 and lam < capacity):
        raise ValueError(f"{what}: unstable or invalid (arrival rate {lam} >= capacity {capacity})")


def erlang_b(c: int, a: float) -> float:
    """Erlang-B blocking probability of M/M/c/c with offered load ``a`` Erlang.

    Computed with the stable recursion ``B_0 = 1``, ``B_k = a B_{k-1} / (k + a B_{k-1})``
    (Gross et al., section 2.5).

    Parameters
    ----------
    c : int
        Servers, ``>= 1``.
    a : float
        Offered load ``lam / mu``, Erlang, ``>= 0``.

    Returns
    -------
    float
        Probability that an arrival finds all ``c`` servers busy.
    """
    if c < 1 or a < 0.0:
        raise ValueError(f"erlang_b needs c >= 1 and a >= 0 (got c={c}, a={a})")
    blocking = 1.0
    for k in range(1, c + 1):
        blocking = a * blocking / (k + a * blocking)
    return blocking


def erlang_c(c: int, a: float) -> float:
    """Erlang-C probability that an arrival to M/M/c has to wait.

    ``C(c, a) = [a^c / c! * c / (c - a)] / [sum_{k<c} a^k / k! + a^c / c! * c / (c - a)]``,
    evaluated through Erlang B as ``C = c B / (c - a (1 - B))`` to avoid overflow for large
    ``c`` (Gross et al., section 2.3; Kleinrock, eq. 3.40).

    Parameters
    ----------
    c : int
        Servers, ``>= 1``.
    a : float
        Offered load ``lam / mu``, Erlang, ``0 <= a < c``.

    Returns
    -------
    float
        P(wait > 0).
    """
    _require_stable(a, c, "erlang_c")
    blocking = erlang_b(c, a)
    return c * blocking / (c - a * (1.0 - blocking))


def mmc_mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean time in queue of M/M/c: ``Wq = C(c, lam/mu) / (c mu - lam)``.

    Parameters
    ----------
    lam, mu : float
        Arrival rate and per-server service rate, 1/time.
    c : int
        Servers.

    Returns
    -------
    float
        Mean wait before service starts, time units of ``1 / lam``.
    """
    _require_stable(lam, c * mu, "mmc_mean_wait")
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_wait_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """The ``q``-quantile of the M/M/c (FIFO) waiting time.

    ``P(Wq > t) = C e^{-(c mu - lam) t}``, so the quantile is
    ``max(0, ln(C / (1 - q)) / (c mu - lam))``.

    Parameters
    ----------
    lam, mu : float
        Arrival rate and per-server service rate, 1/time.
    c : int
        Servers.
    q : float
        Probability level in ``[0, 1)``.

    Returns
    -------
    float
        Waiting-time quantile, time units of ``1 / lam``.
    """
    _require_stable(lam, c * mu, "mmc_wait_quantile")
    if not 0.0 <= q < 1.0:
        raise ValueError(f"q must be in [0, 1) (got {q})")
    prob_wait = erlang_c(c, lam / mu)
    return max(0.0, math.log(prob_wait / (1.0 - q)) / (c * mu - lam))


def mm1_sojourn_quantile(lam: float, mu: float, q: float) -> float:
    """The ``q``-quantile of the M/M/1 (FIFO) sojourn time, ``-ln(1 - q) / (mu - lam)``.

    The sojourn time (wait plus service) of M/M/1 FIFO is exponential with rate ``mu - lam``.

    Parameters
    ----------
    lam, mu : float
        Arrival and service rates, 1/time.
    q : float
        Probability level in ``[0, 1)``.

    Returns
    -------
    float
        Sojourn-time quantile, time units of ``1 / lam``.
    """
    _require_stable(lam, mu, "mm1_sojourn_quantile")
    if not 0.0 <= q < 1.0:
        raise ValueError(f"q must be in [0, 1) (got {q})")
    return -math.log1p(-q) / (mu - lam)


def mg1_mean_wait(lam: float, es: float, es2: float) -> float:
    """Mean time in queue of M/G/1 (Pollaczek-Khinchine): ``lam E[S^2] / (2 (1 - lam E[S]))``.

    Parameters
    ----------
    lam : float
        Arrival rate, 1/time.
    es : float
        Mean service time ``E[S]``.
    es2 : float
        Second moment of the service time ``E[S^2]`` (``>= es^2``).

    Returns
    -------
    float
        Mean wait before service starts.
    """
    _require_stable(lam * es, 1.0, "mg1_mean_wait")
    if es2 < es * es:
        raise ValueError(f"E[S^2] must be >= E[S]^2 (got {es2} < {es * es})")
    return lam * es2 / (2.0 * (1.0 - lam * es))


def md1_mean_wait(lam: float, service_s: float) -> float:
    """Mean time in queue of M/D/1: Pollaczek-Khinchine with ``E[S^2] = s^2``.

    Equals ``rho s / (2 (1 - rho))`` with ``rho = lam s``, half the M/M/1 value.

    Parameters
    ----------
    lam : float
        Arrival rate, 1/s.
    service_s : float
        The constant service time, s.

    Returns
    -------
    float
        Mean wait before service starts, s.
    """
    return mg1_mean_wait(lam, service_s, service_s * service_s)


def bulk_gated_stationary(
    lam: float, mu: float, max_batch: int, n_truncate: int = 4000
) -> tuple[float, np.ndarray]:
    """Stationary law of the gated bulk-service queue M/M^[K]/1 ("variant B").

    One server serves batches of at most ``K = max_batch`` customers; the batch service time is
    exponential with rate ``mu`` whatever the batch size.  A batch is closed when its service
    starts (later arrivals wait for the next batch), and an arrival to an idle server starts a
    batch of one at once.  The continuous-time Markov chain lives on ``idle`` and
    ``(busy, q)`` with ``q`` customers waiting:

    * ``idle -> (busy, 0)`` at rate ``lam``;
    * ``(busy, q) -> (busy, q + 1)`` at rate ``lam``;
    * ``(busy, 0) -> idle`` and, for ``q >= 1``, ``(busy, q) -> (busy, q - min(q, K))`` at
      rate ``mu``.

    The queue is truncated at ``q = n_truncate`` (arrivals there are lost) and the balance
    equations ``pi Q = 0, sum(pi) = 1`` are solved with a sparse direct solver.  This is our
    real-time serving model with one worker, ``max_wait_s = 0`` and exponential service.

    Parameters
    ----------
    lam, mu : float
        Arrival rate and batch service rate, 1/time; stable when ``lam < K mu``.
    max_batch : int
        Batch capacity ``K``, ``>= 1``.
    n_truncate : int
        Largest queue length kept.

    Returns
    -------
    p_idle : float
        Probability that the server is idle.
    p_busy : float64[n_truncate + 1]
        ``p_busy[q]`` is the probability of ``(busy, q)``.

    Raises
    ------
    ValueError
        If the system is unstable or the truncated tail carries more than ``1e-12``
        probability (raise ``n_truncate``).
    """
    _require_stable(lam, max_batch * mu, "bulk_gated_stationary")
    n_states = n_truncate + 2  # state 0 is idle, state 1 + q is (busy, q)
    rows: list[int] = []
    cols: list[int] = []
    rates: list[float] = []

    def add(src: int, dst: int, rate: float) -> None:
        rows.append(src)
        cols.append(dst)
        rates.append(rate)

    lam, mu = float(lam), float(mu)
    add(0, 1, lam)
    for q in range(n_truncate + 1):
        state = 1 + q
        if q < n_truncate:
            add(state, state + 1, lam)
        add(state, 0 if q == 0 else 1 + q - min(q, max_batch), mu)
    generator = scipy.sparse.coo_matrix(
        (np.asarray(rates, dtype=np.float64), (rows, cols)), shape=(n_states, n_states)
    ).tocsr()
    generator = generator - scipy.sparse.diags(np.asarray(generator.sum(axis=1)).ravel())

    # pi Q = 0 has one redundant equation.  Fix pi[idle] = 1, drop the idle state's own
    # balance equation, solve the sparse (banded) system for the busy states, then normalise.
    balance = generator.T.tocsc()[1:, :]  # balance equations of the busy states
    unnormalised = np.ones(n_states)
    unnormalised[1:] = scipy.sparse.linalg.spsolve(
        balance[:, 1:].tocsc(), -balance[:, 0].toarray().ravel()
    )
    pi = unnormalised / unnormalised.sum()
    if pi[-1] > 1e-12:
        raise ValueError(
            f"bulk_gated_stationary: truncation at {n_truncate} keeps probability {pi[-1]:.3g} "
            "in the last state; raise n_truncate"
        )
    return float(pi[0]), pi[1:]


def bulk_gated_mean_wait(lam: float, mu: float, max_batch: int, n_truncate: int = 4000) -> float:
    """Mean wait ``Wq = Lq / lam`` of the gated bulk-service queue M/M^[K]/1 ("variant B").

    See :func:`bulk_gated_stationary` for the model; ``Lq = sum_q q P(busy, q)`` and Little's
    law gives ``Wq``.  For ``(lam, mu, K) = (3, 1, 4)`` it gives ``P(idle) = 0.035934``,
    ``Lq = 7.657496``, ``Wq = 2.552499`` (section 4.3 prints 7.657499 and 2.552500, a slip in
    the seventh digit: the geometric closed form checked in ``tests/test_oracles.py`` agrees
    with this solver to 1e-9).

    Parameters
    ----------
    lam, mu : float
        Arrival rate and batch service rate, 1/time.
    max_batch : int
        Batch capacity ``K``.
    n_truncate : int
        Largest queue length kept in the numerical solution.

    Returns
    -------
    float
        Mean wait before the batch's service starts (arrivals to an idle server wait 0).
    """
    _, p_busy = bulk_gated_stationary(lam, mu, max_batch, n_truncate)
    mean_queue = float(np.dot(np.arange(p_busy.size), p_busy))
    return mean_queue / lam


def bulk_join_mean_sojourn(lam: float, mu: float, max_batch: int) -> float:
    """Mean sojourn time of the "join in progress" bulk queue M/M^[K]/1 ("variant A").

    New arrivals join the batch in service while it holds fewer than ``K`` customers.  The
    number in system is geometric, ``P(N = n) = (1 - r) r^n``, where ``r`` is the root in
    ``(0, 1)`` of ``mu r^{K+1} - (lam + mu) r + lam = 0`` (Gross et al., section 2.8), so
    ``E[N] = r / (1 - r)`` and ``W = E[N] / lam``.

    Parameters
    ----------
    lam, mu : float
        Arrival rate and batch service rate, 1/time.
    max_batch : int
        Batch capacity ``K``.

    Returns
    -------
    float
        Mean time in system (wait plus service).
    """
    _require_stable(lam, max_batch * mu, "bulk_join_mean_sojourn")

    def characteristic(r: float) -> float:
        return mu * r ** (max_batch + 1) - (lam + mu) * r + lam

    # r = 1 is always a root; the one we need lies strictly inside (0, 1), where the
    # polynomial goes from lam > 0 at r = 0 to negative just below 1 when stable.
    upper = 1.0 - 1e-12
    while characteristic(upper) >= 0.0:
        upper = 1.0 - 10.0 * (1.0 - upper)
    root = scipy.optimize.brentq(characteristic, 0.0, upper, xtol=1e-15)
    return root / (1.0 - root) / lam
