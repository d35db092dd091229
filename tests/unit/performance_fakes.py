"""Test doubles of the performance ports (churnguard_ops.performance.ports)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from churnguard_ops.performance.model import AlertState, MetricRead, RawQuery

Key = tuple[str, str, tuple[tuple[str, str], ...], str]  # namespace, name, dimensions, stat


class FakeMetricReader:
    """Per-period values keyed by (namespace, name, dimensions, stat); counts calls as GetMetricData would
    (ceil(queries / 500)) and remembers each read's window."""

    def __init__(self) -> None:
        self.data: dict[Key, dict[datetime, float]] = {}
        self.calls = 0
        self.reads: list[tuple[int, datetime, datetime, int]] = []

    def put(self, namespace: str, name: str, dimensions: dict[str, str], stat: str,
            values: dict[datetime, float]) -> None:
        self.data.setdefault((namespace, name, tuple(sorted(dimensions.items())), stat), {}).update(values)

    def hourly(self, namespace: str, name: str, dimensions: dict[str, str], stat: str, start: datetime,
               values: Sequence[float]) -> None:
        """One value per hour from ``start``."""
        self.put(namespace, name, dimensions, stat, {start + timedelta(hours=i): v for i, v in enumerate(values)})

    def read(self, queries: Sequence[RawQuery], start: datetime, end: datetime, period_seconds: int) -> MetricRead:
        calls = math.ceil(len(queries) / 500)
        self.calls += calls
        self.reads.append((len(queries), start, end, period_seconds))
        values = {q.id: {t: v for t, v in self.data.get((q.namespace, q.name, q.dimensions, q.stat), {}).items()
                         if start <= t < end} for q in queries}
        return MetricRead(values=values, calls=calls, queries=len(queries))


class FakeInstanceClasses:
    def __init__(self, classes: dict[str, str] | None = None) -> None:
        self.classes = dict(classes or {})

    def instance_class(self, db_instance_id: str) -> str | None:
        return self.classes.get(db_instance_id)


class MemoryAlertStates:
    """Conditional claims like DynamoDB's: ``racer`` (if set) changes the stored state between a run's load
    and its claim, as an overlapping run would."""

    def __init__(self) -> None:
        self.items: dict[str, AlertState] = {}
        self.expires: dict[str, int] = {}
        self.racer: dict[str, AlertState] = {}

    def load(self) -> dict[str, AlertState]:
        return dict(self.items)

    def claim(self, key: str, expected: AlertState | None, new: AlertState, *, expires_at: int) -> bool:
        if key in self.racer:
            self.items[key] = self.racer.pop(key)
        if self.items.get(key) != expected:
            return False
        self.items[key] = new
        self.expires[key] = expires_at
        return True

    def release(self, key: str, claimed: AlertState, previous: AlertState | None, *, expires_at: int) -> None:
        if self.items.get(key) != claimed:
            return
        if previous is None:
            del self.items[key]
        else:
            self.items[key] = AlertState(previous.severity, claimed.version + 1, previous.since)


class MemoryReportStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, str]] = {}

    def put(self, key: str, body: str, content_type: str) -> str:
        self.objects[key] = (body, content_type)
        return f"s3://ops-bucket/{key}"


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.performance import ports

    _metrics: ports.MetricReader = FakeMetricReader()
    _classes: ports.InstanceClasses = FakeInstanceClasses()
    _states: ports.AlertStates = MemoryAlertStates()
    _store: ports.ReportStore = MemoryReportStore()
