"""The one target-tracking rule (``simulators/core/autoscale_rule.py``): the compiled copy the
kernels call and the plain one the SimPy references call agree, and both give what the real-time
kernel computed before the rule was shared."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.core import fleet_autoscale as fa
from simulators.core.autoscale_rule import target_nodes


def _before(busy_ws, window_len, w_per_node, target, min_nodes, sched, base, max_nodes):
    """The real-time kernel's ``desired_nodes`` body as it was before the rule was shared."""
    raw = busy_ws / window_len / (w_per_node * target)
    desired = math.ceil(raw - 1e-9)
    low = max(max(min_nodes, sched), base)
    return min(max(desired, low), max_nodes)


@settings(max_examples=300, deadline=None)
@given(busy=st.floats(0.0, 1e6), window=st.floats(1.0, 3600.0), w=st.integers(1, 8),
       target=st.floats(0.05, 4.0), lo=st.integers(0, 5), sched=st.integers(0, 8),
       base=st.integers(0, 5), span=st.integers(0, 40))
def test_compiled_and_plain_rule_agree_with_the_old_kernel(busy, window, w, target, lo, sched,
                                                           base, span):
    hi = max(lo, sched, base) + span
    load = busy / window
    want = _before(busy, window, float(w), target, lo, sched, base, hi)
    assert target_nodes(load, w, target, lo, sched, base, hi) == want
    assert fa.target_nodes(load, float(w), target, lo, sched, base, hi) == want


def test_an_exact_multiple_stays_that_multiple():
    """3 workers busy on average at target 0.5 with 2 workers a node: exactly 3 nodes."""
    assert target_nodes(3.0, 2, 0.5, 1, 0, 0, 10) == 3
    assert target_nodes(3.0 * (1 + 1e-12), 2, 0.5, 1, 0, 0, 10) == 3
    assert target_nodes(3.01, 2, 0.5, 1, 0, 0, 10) == 4


def test_the_clamp_order():
    """The floor is the largest of min, schedule and base; the ceiling wins over the floor."""
    assert target_nodes(0.0, 1, 0.5, 1, 4, 2, 10) == 4
    assert target_nodes(0.0, 1, 0.5, 1, 0, 6, 10) == 6
    assert target_nodes(1e9, 1, 0.5, 1, 0, 0, 7) == 7
    assert np.isscalar(fa.target_nodes(0.0, 1.0, 0.5, 1, 0, 0, 3))
