"""Readable units for durations and money: the cases a report shows."""

from __future__ import annotations

import pytest

from planner.reports.sections import fmt_ms, fmt_unit, human_ms
from planner.stats import Estimate


@pytest.mark.parametrize(("ms", "text"), [
    (None, "n/a"), (0.5, "0.50 ms"), (9_999.0, "9,999.00 ms"), (10_000.0, "10.00 s"),
    (119_000.0, "119.00 s"), (120_000.0, "2.00 min"), (7_199_000.0, "119.98 min"),
    (7_200_000.0, "2.00 h"), (345_600_000.0, "96.00 h"),
])
def test_human_ms(ms, text):
    assert human_ms(ms) == text


def test_fmt_ms_states_the_interval_in_the_value_s_unit():
    # issue 15 item 10: a value and its half-width share one unit (was "18.23 s ± 1,960.00 ms")
    assert fmt_ms(Estimate(18_230.0, 16_270.0, 20_190.0, 4), ci=True) == "18.23 s ± 1.96 s"
    assert fmt_ms(Estimate(7.87, 7.87, 7.87, 4), ci=True) == "7.87 ms ± 0.00 ms"
    assert fmt_ms(Estimate(None, None, None, 0)) == "n/a"


@pytest.mark.parametrize(("usd", "text"), [
    (None, "n/a"), (0.0, "$0.0000"), (0.0000376, "$0.0000376"), (0.00099, "$0.000990"),
    (0.0118, "$0.0118"), (12.345, "$12.35"), (22596.2, "$22,596.20"),
])
def test_unit_costs_never_round_to_zero(usd, text):
    assert fmt_unit(usd) == text
