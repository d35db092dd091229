"""Values of the performance domain: series to read, what a check found, and the report."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel


@dataclass(frozen=True)
class RawQuery:
    """One GetMetricData MetricStat query."""

    id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str  # Average, Maximum, Sum, p95, ...


Combine = Literal["scale", "per_minute", "ratio_pct", "memory_used_pct"]


@dataclass(frozen=True)
class Series:
    """One judged series (a kind on a resource) and how its per-period values come from the raw queries:
    ``scale``: the first query times ``factor``; ``per_minute``: a period's sum / its minutes;
    ``ratio_pct``: 100 x first / second (periods where the second is > 0); ``memory_used_pct``:
    100 x (1 - freeable / ``memory_bytes``)."""

    kind: str
    resource: str
    queries: tuple[RawQuery, ...]
    combine: Combine = "scale"
    factor: float = 1.0
    memory_bytes: float | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}#{self.resource}"

    def values(self, raw: dict[str, dict[datetime, float]], period_seconds: int) -> dict[datetime, float]:
        """Per-period values (period start -> value) from the raw results by query id."""
        first = raw.get(self.queries[0].id, {})
        if self.combine == "scale":
            return {t: v * self.factor for t, v in first.items()}
        if self.combine == "per_minute":
            return {t: v / (period_seconds / 60) for t, v in first.items()}
        if self.combine == "ratio_pct":
            second = raw.get(self.queries[1].id, {})
            return {t: 100 * first.get(t, 0.0) / total for t, total in second.items() if total > 0}
        assert self.memory_bytes, "memory_used_pct needs the instance class's memory"
        return {t: 100 * (1 - v / self.memory_bytes) for t, v in first.items()}


@dataclass
class MetricRead:
    """What one read returned: per query id, period start -> value; and what it cost."""

    values: dict[str, dict[datetime, float]]
    calls: int
    queries: int
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AlertState:
    """The dedup state of one series: the highest severity alerted since the breach began (None: not
    breaching), and the version a conditional write must still find."""

    severity: str | None
    version: int
    since: str | None = None


class SeriesStats(BaseModel):
    periods: int
    average: float | None
    minimum: float | None
    maximum: float | None
    p95: float | None
    p99: float | None
    violations: int
    worst_severity: str | None


class Trend(BaseModel):
    delta: float | None
    pct: float | None


class Reading(BaseModel):
    """A check's view of one series: its latest period's value and grade."""

    key: str
    kind: str
    resource: str
    label: str
    unit: str
    threshold: float
    value: float
    ratio: float
    period_start: datetime
    severity: str | None


class Alert(BaseModel):
    """A transition worth telling: ``breach`` (new), ``escalated`` (severity rose), ``recovered``."""

    transition: Literal["breach", "escalated", "recovered"]
    reading: Reading
    previous_severity: str | None

    def line(self) -> str:
        r = self.reading
        if self.transition == "recovered":
            return (f"RECOVERED {r.label} {r.resource}: {r.value:,.2f} {r.unit} <= {r.threshold:,.2f} {r.unit} "
                    f"(was {self.previous_severity})")
        rose = f", up from {self.previous_severity}" if self.transition == "escalated" else ""
        return (f"{(r.severity or '').upper()} {r.label} {r.resource}: {r.value:,.2f} {r.unit} = {r.ratio:.2f}x "
                f"the threshold {r.threshold:,.2f} {r.unit}{rose}")

    def detail(self) -> dict[str, Any]:
        return {"transition": self.transition, "previous_severity": self.previous_severity,
                **self.reading.model_dump(mode="json")}


class CheckResult(BaseModel):
    checked_at: datetime
    window_start: datetime
    window_end: datetime
    series: int
    readings: list[Reading]
    no_data: list[str]
    alerts: list[Alert]
    skipped_claims: list[str]  # transitions another run claimed first
    notes: list[str]
    cloudwatch_queries: int
    cloudwatch_calls: int

    def headline(self) -> dict[str, Any]:
        breaching = [r for r in self.readings if r.severity]
        return {"checked_at": self.checked_at.isoformat(), "series": self.series, "with_data": len(self.readings),
                "breaching": {r.key: r.severity for r in breaching},
                "alerts": [{"transition": a.transition, "key": a.reading.key, "severity": a.reading.severity,
                            "previous_severity": a.previous_severity, "value": a.reading.value,
                            "ratio": a.reading.ratio} for a in self.alerts],
                "skipped_claims": self.skipped_claims, "no_data": self.no_data, "notes": self.notes,
                "cloudwatch_queries": self.cloudwatch_queries, "cloudwatch_calls": self.cloudwatch_calls}


class MetricReport(BaseModel):
    key: str
    kind: str
    label: str
    resource: str
    unit: str
    threshold: float
    current: SeriesStats
    previous: SeriesStats
    trend: Trend


class Recommendation(BaseModel):
    key: str
    kind: str
    resource: str
    advice: str
    evidence: str
    statistic: str
    value: float
    threshold: float
    ratio: float


class PerformanceReport(BaseModel):
    generated_at: datetime
    window_start: datetime
    window_end: datetime
    hours: int
    period_seconds: int
    metrics: list[MetricReport]
    recommendations: list[Recommendation]
    notes: list[str]
    cloudwatch_queries: int
    cloudwatch_calls: int
    definitions: str

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
