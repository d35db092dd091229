"""Severity grading exactly as the seed profiler: ratio to threshold >= 1.5 critical, >= 1.25 high, >= 1.1
medium, else low; at or below the threshold no violation."""
from __future__ import annotations

import pytest

from churnguard_ops.performance.grading import Severity, grade


@pytest.mark.parametrize(("value", "expected"), [
    (1000.0, None),  # ratio 0.5
    (2000.0, None),  # exactly at the threshold: not above it
    (2000.2, Severity.LOW),  # 1.0001
    (2199.0, Severity.LOW),  # 1.0995
    (2200.0, Severity.MEDIUM),  # exactly 1.1
    (2499.0, Severity.MEDIUM),  # 1.2495
    (2500.0, Severity.HIGH),  # exactly 1.25
    (2600.0, Severity.HIGH),  # 1.3
    (2999.0, Severity.HIGH),  # 1.4995
    (3000.0, Severity.CRITICAL),  # exactly 1.5
    (10_000.0, Severity.CRITICAL),
])
def test_grade_at_the_ratio_edges_against_a_2000_ms_threshold(value: float, expected: Severity | None) -> None:
    assert grade(value, 2000.0) == expected


@pytest.mark.parametrize(("value", "threshold", "expected"), [
    (88.0, 80.0, Severity.MEDIUM),  # CPU 1.1
    (100.0, 80.0, Severity.HIGH),  # 1.25
    (120.0, 80.0, Severity.CRITICAL),  # 1.5
    (85.0, 85.0, None),  # memory at its threshold
    (110.0, 100.0, Severity.MEDIUM),  # queue depth 1.1
    (150.0, 100.0, Severity.CRITICAL),
])
def test_grade_edges_hold_for_the_seed_thresholds(value: float, threshold: float, expected: Severity | None) -> None:
    assert grade(value, threshold) == expected


def test_severities_are_ordered_so_a_rise_compares_greater() -> None:
    assert Severity.LOW < Severity.MEDIUM < Severity.HIGH < Severity.CRITICAL


def test_a_non_positive_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold must be positive"):
        grade(1.0, 0.0)
