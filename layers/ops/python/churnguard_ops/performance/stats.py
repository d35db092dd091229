"""The report's statistics over per-period values, and the trend between two windows.

Definitions (checkable by hand):

- each series is a list of per-period values ``v``, one per period with data (hourly by default; a period's
  value is CloudWatch's statistic of the kind, e.g. the period's p99 latency or its average CPU);
- ``average``: the mean of ``v`` (every period weighs the same); ``minimum``/``maximum``: of ``v``;
- ``p95``/``p99``: **nearest rank** over ``v``: the value at rank ``ceil(p/100 * n)`` of ``v`` sorted ascending
  (so with 24 hourly values, p95 is the 23rd smallest and p99 the largest);
- ``violations``: the periods whose value is above the threshold (``value / threshold > 1``), and the worst
  severity among them (the grade of the largest such value);
- ``trend``: ``delta`` = this window's average - the previous window's (same length, right before it);
  ``pct`` = ``100 * delta / previous average`` (None when the previous window had no data or averaged 0).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from churnguard_ops.performance.grading import Severity, grade
from churnguard_ops.performance.model import SeriesStats, Trend


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: Sequence[float], threshold: float) -> SeriesStats:
    over = [v for v in values if grade(v, threshold) is not None]
    worst: Severity | None = grade(max(over), threshold) if over else None
    return SeriesStats(
        periods=len(values), average=sum(values) / len(values) if values else None,
        minimum=min(values) if values else None, maximum=max(values) if values else None,
        p95=percentile(values, 95), p99=percentile(values, 99), violations=len(over),
        worst_severity=worst.label if worst else None)


def trend(current: float | None, previous: float | None) -> Trend:
    if current is None or previous is None:
        return Trend(delta=None, pct=None)
    delta = current - previous
    return Trend(delta=delta, pct=100 * delta / previous if previous else None)
