"""How long ago each drill source last passed a drill: the metric the "no successful drill" alarm watches.

An alarm on DrillSucceeded cannot say "no success within N days" (CloudWatch windows end at 7 days
and align to period boundaries); the age of the last success, emitted every few minutes, can: the
alarm compares it with N days directly, and a missing value (no success ever, or this function
broken) is breaching.
"""
from __future__ import annotations

from datetime import datetime

from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.ports import MetricsSink
from churnguard_ops.drill.ports import DrillHistory

METRIC = "SecondsSinceLastSuccessfulDrill"


def seconds_since(last_success: datetime | None, now: datetime) -> float | None:
    """None when there never was a success (emit nothing: the alarm treats missing data as breaching).
    A success reported "in the future" (clock skew) is 0 s old, never negative."""
    if last_success is None:
        return None
    return max(round((now - last_success).total_seconds(), 3), 0.0)


class DrillFreshness:
    def __init__(self, sources: list[str], history: DrillHistory, metrics: MetricsSink,
                 clock: Clock = utcnow) -> None:
        self.sources = sources
        self.history = history
        self.metrics = metrics
        self.clock = clock

    def emit(self) -> dict:
        now = self.clock()
        result: dict = {"measured_at": now.isoformat(), "sources": {}}
        for source in self.sources:
            last = self.history.last_success(source)
            age = seconds_since(last, now)
            if age is not None:
                self.metrics.put(METRIC, age, "Seconds", {"SourceDBInstance": source})
            result["sources"][source] = {"last_success": last.isoformat() if last else None, "seconds": age}
        return result
