"""The report's statistics against hand-computed values (nearest-rank percentiles over per-period values)."""
from __future__ import annotations

import pytest

from churnguard_ops.performance.stats import percentile, summarize, trend


def test_nearest_rank_percentiles_of_1_to_100() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 95) is None


def test_percentiles_of_24_hourly_values_are_the_23rd_smallest_and_the_largest() -> None:
    values = [float(v) for v in range(1, 25)]  # 1..24
    assert percentile(values, 95) == 23.0  # rank ceil(22.8) = 23
    assert percentile(values, 99) == 24.0  # rank ceil(23.76) = 24


def test_summary_of_a_day_with_six_breaching_hours() -> None:
    # 18 hours at 1500 ms and 6 at 2600 ms against 2000 ms: average (18*1500 + 6*2600)/24 = 1775.
    values = [1500.0] * 18 + [2600.0] * 6
    s = summarize(values, 2000.0)
    assert (s.periods, s.average, s.minimum, s.maximum) == (24, 1775.0, 1500.0, 2600.0)
    assert (s.p95, s.p99) == (2600.0, 2600.0)
    assert s.violations == 6
    assert s.worst_severity == "high"  # 2600 / 2000 = 1.3


def test_a_value_at_the_threshold_is_not_a_violation() -> None:
    s = summarize([80.0, 80.0, 79.0], 80.0)
    assert s.violations == 0 and s.worst_severity is None


def test_the_worst_severity_is_the_grade_of_the_largest_violation() -> None:
    assert summarize([81.0, 90.0, 121.0], 80.0).worst_severity == "critical"  # 121/80 = 1.5125


def test_an_empty_window_has_no_statistics() -> None:
    s = summarize([], 80.0)
    assert (s.periods, s.average, s.p95, s.violations) == (0, None, None, 0)


def test_trend_is_the_average_delta_and_its_percentage_of_the_previous_window() -> None:
    t = trend(1775.0, 1420.0)
    assert t.delta == pytest.approx(355.0)
    assert t.pct == pytest.approx(25.0)


def test_trend_without_a_previous_window_or_from_zero_has_no_percentage() -> None:
    assert trend(10.0, None).delta is None
    t = trend(10.0, 0.0)
    assert t.delta == 10.0 and t.pct is None
