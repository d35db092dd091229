"""The performance use cases: the 5-minute check (graded, deduplicated alerts) and the report over any window.

A check reads every watched series in one batched GetMetricData over the last ``check_periods`` periods
(ending at the last period boundary) and judges each series by its latest period with data. Dedup per series
(:func:`transition`): a breach alerts once; while it lasts, only a higher severity alerts again ("escalated");
when the value is back at or under the threshold a "recovered" notice goes out and the next breach alerts
anew. A series without data in the window keeps its state. State transitions are claimed with conditional
writes before anything is published, so two overlapping runs cannot both alert; when publishing fails the
run's claims are released and it raises, so a retry tells them (at least once, never silently lost).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.ports import EventPublisher, Notifier
from churnguard_ops.performance.config import DEFAULT_RULES, RecommendationRule, Targets
from churnguard_ops.performance.grading import Severity, grade, parse_severity
from churnguard_ops.performance.instance_memory import memory_bytes
from churnguard_ops.performance.kinds import KINDS, default_thresholds
from churnguard_ops.performance.model import Alert, AlertState, CheckResult, Reading, Series
from churnguard_ops.performance.ports import AlertStates, InstanceClasses, MetricReader
from churnguard_ops.performance.series import all_queries, build_series

Transition = Literal["breach", "escalated", "recovered"]


@dataclass(frozen=True)
class MonitorConfig:
    targets: Targets = field(default_factory=Targets)
    thresholds: dict[str, float] = field(default_factory=default_thresholds)
    rules: tuple[RecommendationRule, ...] = DEFAULT_RULES
    check_period_seconds: int = 300
    check_periods: int = 3
    report_period_seconds: int = 3600
    report_hours: int = 24
    state_ttl_days: int = 7


def floor_time(moment: datetime, period_seconds: int) -> datetime:
    """The period boundary at or before ``moment`` (periods counted from the Unix epoch, as CloudWatch does)."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % period_seconds, tz=moment.tzinfo)


def transition(prior: Severity | None, current: Severity | None) -> tuple[Transition | None, Severity | None]:
    """(what to tell, the severity to remember): the remembered one is the highest alerted in this breach."""
    if current is None:
        return ("recovered", None) if prior is not None else (None, None)
    if prior is None:
        return "breach", current
    if current > prior:
        return "escalated", current
    return None, prior


def watched_series(targets: Targets, classes: InstanceClasses) -> tuple[list[Series], list[str]]:
    """The series of ``targets``; each database's class from RDS gives its memory (notes say what is missing)."""
    memory: dict[str, float | None] = {}
    notes: list[str] = []
    for db in targets.databases:
        instance_class = classes.instance_class(db)
        if instance_class is None:
            notes.append(f"database {db}: no such RDS instance")
        memory[db] = memory_bytes(instance_class) if instance_class else None
        if instance_class and memory[db] is None:
            notes.append(f"database {db}: instance class {instance_class} is not in the memory table")
    series, more = build_series(targets, memory)
    return series, notes + more


class PerformanceMonitor:
    def __init__(self, metrics: MetricReader, classes: InstanceClasses, states: AlertStates, events: EventPublisher,
                 notifier: Notifier | None, clock: Clock, config: MonitorConfig) -> None:
        self.metrics = metrics
        self.classes = classes
        self.states = states
        self.events = events
        self.notifier = notifier
        self.clock = clock
        self.config = config

    def check(self) -> CheckResult:
        cfg = self.config
        now = self.clock()
        period = cfg.check_period_seconds
        end = floor_time(now, period)
        start = end - timedelta(seconds=period * cfg.check_periods)
        series, notes = watched_series(cfg.targets, self.classes)
        read = self.metrics.read(all_queries(series), start, end, period)
        readings, no_data = [], []
        for s in series:
            values = s.values(read.values, period)
            if not values:
                no_data.append(s.key)
                continue
            latest = max(values)
            readings.append(reading(s, values[latest], latest, cfg.thresholds[s.kind]))
        claims, skipped = self._transitions(readings, now)
        alerts = [alert for alert, _, _ in claims]
        try:
            for alert in alerts:
                self.events.publish(contracts.PERFORMANCE_ALERT_DETAIL_TYPE, alert.detail())
            if alerts and self.notifier is not None:
                self.notifier.publish(alert_subject(alerts), "\n".join(a.line() for a in alerts))
        except Exception:
            # Undo this run's claims so the retry (Lambda's, or the next check) tells them: at least once.
            expires_at = int((now + timedelta(days=cfg.state_ttl_days)).timestamp())
            for alert, claimed, previous in claims:
                self.states.release(alert.reading.key, claimed, previous, expires_at=expires_at)
            raise
        return CheckResult(checked_at=now, window_start=start, window_end=end, series=len(series), readings=readings,
                           no_data=no_data, alerts=alerts, skipped_claims=skipped, notes=notes,
                           cloudwatch_queries=read.queries, cloudwatch_calls=read.calls)

    def _transitions(self, readings: Sequence[Reading], now: datetime
                     ) -> tuple[list[tuple[Alert, AlertState, AlertState | None]], list[str]]:
        """The transitions this run claimed (alert, the state claimed, the state before) and those it lost."""
        states = self.states.load()
        expires_at = int((now + timedelta(days=self.config.state_ttl_days)).timestamp())
        claims: list[tuple[Alert, AlertState, AlertState | None]] = []
        skipped: list[str] = []
        for r in readings:
            prior = states.get(r.key)
            prior_severity = parse_severity(prior.severity) if prior and prior.severity else None
            current = parse_severity(r.severity) if r.severity else None
            told, remembered = transition(prior_severity, current)
            if told is None:
                continue
            since = (prior.since if prior and prior.since and told == "escalated" else
                     r.period_start.isoformat() if remembered else None)
            new = AlertState(severity=remembered.label if remembered else None,
                             version=prior.version + 1 if prior else 1, since=since)
            if not self.states.claim(r.key, prior, new, expires_at=expires_at):
                skipped.append(r.key)  # another run got there first and told it
                continue
            claims.append((Alert(transition=told, reading=r,
                                 previous_severity=prior_severity.label if prior_severity else None), new, prior))
        return claims, skipped


def reading(s: Series, value: float, period_start: datetime, threshold: float) -> Reading:
    kind = KINDS[s.kind]
    severity = grade(value, threshold)
    return Reading(key=s.key, kind=s.kind, resource=s.resource, label=kind.label, unit=kind.unit,
                   threshold=threshold, value=value, ratio=value / threshold, period_start=period_start,
                   severity=severity.label if severity else None)


def alert_subject(alerts: Sequence[Alert]) -> str:
    open_ = [a for a in alerts if a.transition != "recovered"]
    if not open_:
        return f"Performance: {len(alerts)} metric(s) recovered"[:100]
    worst = max(open_, key=lambda a: parse_severity(a.reading.severity or "low"))
    r = worst.reading
    more = f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
    return f"Performance {(r.severity or '').upper()}: {r.label} {r.resource}{more}"[:100]
