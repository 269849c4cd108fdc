"""The log-bucket histogram: percentile error bound and bucketing edge cases."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.core.histogram import (
    MAX_EXP,
    MIN_EXP,
    N_BUCKETS,
    RELATIVE_ERROR_BOUND,
    bucket_bounds,
    histogram_of,
    percentiles_from_counts,
)


def test_error_bound_is_below_one_percent() -> None:
    assert RELATIVE_ERROR_BOUND <= 0.01


def test_bucket_edges_are_contiguous_and_bound_their_values() -> None:
    lower, upper = bucket_bounds()
    np.testing.assert_array_equal(lower[1:], upper[:-1])
    rng = np.random.default_rng(0)
    values = np.exp(rng.uniform(np.log(2.0**MIN_EXP), np.log(2.0**MAX_EXP), 100_000))
    counts = histogram_of(values)
    for v in values[:2000]:
        idx = int(np.flatnonzero(histogram_of(np.array([v])))[0])
        assert lower[idx] <= v < upper[idx]
        assert (upper[idx] - lower[idx]) / lower[idx] <= RELATIVE_ERROR_BOUND + 1e-15
    assert counts.sum() == values.size


def test_zero_tiny_and_huge_values_land_in_the_end_buckets() -> None:
    counts = histogram_of(np.array([0.0, 1e-9, 2.0**MIN_EXP * 0.99, 1e9, np.inf]))
    assert counts[0] == 3
    assert counts[N_BUCKETS - 1] == 2
    assert percentiles_from_counts(counts, np.array([0.5]))[0] == 0.0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 5000),
    sigma=st.floats(0.01, 3.0),
    median_s=st.floats(1e-4, 1e5),
    q=st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6),
)
def test_percentile_error_is_bounded(seed, n, sigma, median_s, q) -> None:
    """Any percentile is within RELATIVE_ERROR_BOUND of the exact nearest-rank value."""
    rng = np.random.default_rng(seed)
    values = median_s * rng.lognormal(0.0, sigma, n)
    qs = np.array(q)
    est = percentiles_from_counts(histogram_of(values), qs)
    exact = np.quantile(values, qs, method="inverted_cdf")
    tiny = exact < 2.0**MIN_EXP  # below about 1 microsecond values are reported as 0
    huge = exact >= 2.0**MAX_EXP  # overflow: reported as the overflow bucket's lower edge
    resolved = ~tiny & ~huge
    assert np.all(np.abs(est - exact)[resolved] <= RELATIVE_ERROR_BOUND * exact[resolved])
    assert np.all(est[tiny] == 0.0)
    assert np.all(est[huge] == 2.0**MAX_EXP)


def test_percentiles_are_per_row_and_nan_when_empty() -> None:
    rows = np.stack([histogram_of(np.array([0.001, 0.002, 0.003])),
                     np.zeros(N_BUCKETS, dtype=np.int64)])
    out = percentiles_from_counts(rows, np.array([0.5, 1.0]))
    assert out.shape == (2, 2)
    assert abs(out[0, 0] - 0.002) <= RELATIVE_ERROR_BOUND * 0.002
    assert np.isnan(out[1]).all()


def test_a_quantile_is_saturated_exactly_when_its_rank_is_in_the_overflow_bucket() -> None:
    from simulators.core.histogram import saturated_from_counts

    # 90 values of 1 s and 10 of 1e9 s (beyond 2^24 s): ranks 1..90 are exact, 91..100 are not.
    counts = histogram_of(np.array([1.0] * 90 + [1e9] * 10))
    assert counts[-1] == 10
    flags = saturated_from_counts(counts, np.array([0.5, 0.9, 0.901, 0.91, 1.0]))
    np.testing.assert_array_equal(flags, [False, False, True, True, True])
    # Rows are independent; an empty histogram is never saturated.
    both = np.stack([counts, np.zeros_like(counts)])
    np.testing.assert_array_equal(saturated_from_counts(both, np.array([0.99])), [[True], [False]])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 2.0**30, allow_nan=False), min_size=1, max_size=200),
       st.floats(0.01, 1.0))
def test_saturation_agrees_with_the_exact_nearest_rank_value(values, q) -> None:
    from simulators.core.histogram import saturated_from_counts

    exact = np.sort(np.array(values))[max(int(np.ceil(q * len(values))), 1) - 1]
    flag = saturated_from_counts(histogram_of(np.array(values)), np.array([q]))[0]
    assert flag == (exact >= 2.0**MAX_EXP)
