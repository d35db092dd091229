"""The seed profiler's severity grading, by the ratio of a value to its threshold.

A value at or below its threshold is no violation (``ratio <= 1.0``: "above the threshold", not "at it").
Above it, the ratio grades it: ``>= 1.5`` critical, ``>= 1.25`` high, ``>= 1.1`` medium, else low; the
edges belong to the higher grade (exactly 1.5 is critical, exactly 1.1 medium).
"""
from __future__ import annotations

from enum import IntEnum


class Severity(IntEnum):
    """Ordered, so "rose" is ``>`` (the dedup compares grades)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


#: (minimum ratio, grade), highest first.
GRADES: tuple[tuple[float, Severity], ...] = (
    (1.5, Severity.CRITICAL), (1.25, Severity.HIGH), (1.1, Severity.MEDIUM))


def grade(value: float, threshold: float) -> Severity | None:
    """None when ``value`` does not exceed ``threshold``; else the seed's grade of ``value / threshold``."""
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, not {threshold}")
    ratio = value / threshold
    if ratio <= 1.0:
        return None
    for minimum, severity in GRADES:
        if ratio >= minimum:
            return severity
    return Severity.LOW


def parse_severity(label: str) -> Severity:
    return Severity[label.upper()]
