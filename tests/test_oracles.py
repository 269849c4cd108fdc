"""The queueing oracles reproduce the published values of section 4.3 of the reference notes.

``shared/reference/simulators-and-traces.md`` tabulates Erlang-C, M/M/1, M/D/1, Erlang-B and
bulk-service values to about six significant digits, so the table comparisons use a relative
tolerance of 1e-6 (plus 1e-6 absolute for values printed with six decimals).  The gated bulk
CTMC is also checked, to 1e-9, against a closed form derived independently below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.oracles import (
    bulk_gated_mean_wait,
    bulk_gated_stationary,
    bulk_join_mean_sojourn,
    erlang_b,
    erlang_c,
    md1_mean_wait,
    mg1_mean_wait,
    mm1_sojourn_quantile,
    mmc_mean_wait,
    mmc_wait_quantile,
)

TABLE_REL = 1e-6
TABLE_ABS = 1e-6


def close(value: float, published: float) -> bool:
    """Whether ``value`` matches a table entry printed with about six digits."""
    return math.isclose(value, published, rel_tol=TABLE_REL, abs_tol=TABLE_ABS)


# Erlang-C table: (c, lam, mu, C, Wq, W, Wq p95, Wq p99); None where the table has a dash.
ERLANG_C_ROWS = [
    (3, 0.2, 0.1, 0.444444, 4.444444, 14.444444, None, None),
    (1, 0.8, 1.0, 0.8, 4.0, 5.0, None, None),
    (5, 4.0, 1.0, 0.554113, 0.554113, 1.554113, 2.4053, 4.0148),
    (10, 9.0, 1.0, 0.668732, 0.668732, 1.668732, 2.5934, 4.2028),
    (100, 90.0, 1.0, 0.216940, 0.021694, 1.021694, 0.1468, 0.3077),
]


@pytest.mark.parametrize(("c", "lam", "mu", "prob_wait", "wq", "w", "p95", "p99"), ERLANG_C_ROWS)
def test_erlang_c_table(c, lam, mu, prob_wait, wq, w, p95, p99):
    assert close(erlang_c(c, lam / mu), prob_wait)
    assert close(mmc_mean_wait(lam, mu, c), wq)
    assert close(mmc_mean_wait(lam, mu, c) + 1.0 / mu, w)
    if p95 is not None:  # printed with four decimals
        assert mmc_wait_quantile(lam, mu, c, 0.95) == pytest.approx(p95, abs=5e-5)
        assert mmc_wait_quantile(lam, mu, c, 0.99) == pytest.approx(p99, abs=5e-5)


def test_erlang_c_matches_the_textbook_sum_formula():
    # The oracle goes through Erlang B; the table's formula, summed directly, must agree.
    for c, a in [(1, 0.5), (3, 2.0), (7, 6.3), (20, 15.0)]:
        top = a**c / math.factorial(c) * c / (c - a)
        direct = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
        assert erlang_c(c, a) == pytest.approx(direct, rel=1e-12)


def test_mmc_wait_quantile_is_zero_below_the_atom():
    # P(Wq = 0) = 1 - C, so every quantile at a level below 1 - C is zero.
    prob_wait = erlang_c(100, 90.0)
    assert mmc_wait_quantile(90.0, 1.0, 100, 0.5 * (1.0 - prob_wait)) == 0.0


def test_mm1_sojourn_quantiles_table():
    assert mm1_sojourn_quantile(0.8, 1.0, 0.50) == pytest.approx(3.4657, abs=5e-5)
    assert mm1_sojourn_quantile(0.8, 1.0, 0.95) == pytest.approx(14.9787, abs=5e-5)
    assert mm1_sojourn_quantile(0.8, 1.0, 0.99) == pytest.approx(23.0259, abs=5e-5)


@pytest.mark.parametrize(("rho", "wq", "w", "lq"), [(0.5, 0.5, 1.5, 0.25), (0.8, 2.0, 3.0, 1.6),
                                                    (0.9, 4.5, 5.5, 4.05)])
def test_md1_table(rho, wq, w, lq):
    lam = rho  # S = 1
    assert close(md1_mean_wait(lam, 1.0), wq)
    assert close(md1_mean_wait(lam, 1.0) + 1.0, w)
    assert close(lam * md1_mean_wait(lam, 1.0), lq)


def test_mg1_is_half_mm1_for_deterministic_and_mm1_for_exponential():
    # Exponential service with mean 1: E[S^2] = 2, so P-K gives the M/M/1 value rho/(1-rho).
    assert mg1_mean_wait(0.8, 1.0, 2.0) == pytest.approx(mmc_mean_wait(0.8, 1.0, 1), rel=1e-12)
    assert md1_mean_wait(0.8, 1.0) == pytest.approx(0.5 * mmc_mean_wait(0.8, 1.0, 1), rel=1e-12)


def test_erlang_b_table():
    assert close(erlang_b(10, 7.0), 0.078741)
    assert close(erlang_b(100, 90.0), 0.026957)


# Bulk table: (lam, mu, K, r0, A: P(N=0), A: E[N], A: W, B: P(idle), B: Lq, B: Wq).
BULK_ROWS = [
    (3.0, 1.0, 4, 0.888180, 0.111820, 7.942917, 2.647637, 0.035934, 7.657499, 2.552500),
    (7.0, 1.0, 8, 0.970246, 0.029754, 32.608960, 4.658422, 0.004233, 32.470940, 4.638706),
    (15.0, 1.0, 16, 0.992363, 0.007637, 129.942993, 8.662866, 0.000509, 129.876870, 8.658458),
    (0.9, 1.0, 1, 0.9, 0.1, 9.0, 10.0, 0.1, 8.1, 9.0),
]


@pytest.mark.parametrize(("lam", "mu", "k", "r0", "a_p0", "a_n", "a_w", "b_idle", "b_lq", "b_wq"),
                         BULK_ROWS)
def test_bulk_gated_table(lam, mu, k, r0, a_p0, a_n, a_w, b_idle, b_lq, b_wq):
    p_idle, p_busy = bulk_gated_stationary(lam, mu, k)
    mean_queue = float(np.dot(np.arange(p_busy.size), p_busy))
    assert close(p_idle, b_idle)
    assert close(mean_queue, b_lq)
    assert close(bulk_gated_mean_wait(lam, mu, k), b_wq)


@pytest.mark.parametrize(("lam", "mu", "k", "r0", "a_p0", "a_n", "a_w", "b_idle", "b_lq", "b_wq"),
                         BULK_ROWS)
def test_bulk_join_table(lam, mu, k, r0, a_p0, a_n, a_w, b_idle, b_lq, b_wq):
    # The table's W column is E[N] / lam rounded; (3, 1, 4) prints 2.647637 for 7.942917 / 3 =
    # 2.6476390, a 1e-6 slip, still inside the six-digit tolerance.
    assert close(bulk_join_mean_sojourn(lam, mu, k), a_w)
    assert close(lam * bulk_join_mean_sojourn(lam, mu, k), a_n)


@pytest.mark.parametrize(("lam", "mu", "k"), [(3.0, 1.0, 4), (7.0, 1.0, 8), (15.0, 1.0, 16),
                                              (0.9, 1.0, 1), (2.0, 0.7, 3)])
def test_bulk_gated_ctmc_matches_geometric_closed_form(lam, mu, k):
    """An independent derivation of the gated model.

    For ``q >= 1`` the balance of ``(busy, q)`` reads ``(lam + mu) p_q = lam p_{q-1} +
    mu p_{q+K}``, whose decaying solution is ``p_q = C r^q`` with ``r`` the root in (0, 1) of
    ``mu r^{K+1} - (lam + mu) r + lam`` (the variant-A root).  The idle balance gives
    ``lam P(idle) = mu C``, and normalisation ``P(idle) + C / (1 - r) = 1``.  Hence
    ``Lq = C r / (1 - r)^2``.
    """
    # variant A: E[N] = r / (1 - r) = lam W  =>  r = lam W / (1 + lam W)
    mean_in_system = lam * bulk_join_mean_sojourn(lam, mu, k)
    r = mean_in_system / (1.0 + mean_in_system)
    c = 1.0 / (mu / lam + 1.0 / (1.0 - r))
    p_idle, p_busy = bulk_gated_stationary(lam, mu, k)
    assert p_idle == pytest.approx(mu * c / lam, rel=1e-9)
    assert p_busy[:50] == pytest.approx(c * r ** np.arange(50), rel=1e-8, abs=1e-15)
    assert bulk_gated_mean_wait(lam, mu, k) == pytest.approx(c * r / (1.0 - r) ** 2 / lam, rel=1e-8)


def test_bulk_gated_with_batch_one_is_mm1():
    assert bulk_gated_mean_wait(0.6, 1.0, 1) == pytest.approx(mmc_mean_wait(0.6, 1.0, 1), rel=1e-8)


def test_bulk_gated_refuses_a_too_short_truncation():
    with pytest.raises(ValueError, match="raise n_truncate"):
        bulk_gated_mean_wait(15.0, 1.0, 16, n_truncate=200)


@pytest.mark.parametrize(
    "call",
    [
        lambda: erlang_c(4, 4.0),
        lambda: mmc_mean_wait(5.0, 1.0, 4),
        lambda: md1_mean_wait(1.0, 1.0),
        lambda: bulk_gated_mean_wait(4.0, 1.0, 4),
        lambda: bulk_join_mean_sojourn(4.5, 1.0, 4),
    ],
)
def test_oracles_refuse_unstable_systems(call):
    with pytest.raises(ValueError, match="unstable"):
        call()
