"""The performance report over any window (``hours``, ending at a period boundary), against the window of the
same length right before it; statistics as defined in :mod:`churnguard_ops.performance.stats`.

One GetMetricData read covers both windows (its values are split at the window's start). The report goes to
the ops bucket as ``performance/reports/<window end>_<hours>h/report.{json,md}`` and a summary to the ops topic.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.ports import Notifier
from churnguard_ops.performance import stats
from churnguard_ops.performance.config import RecommendationRule
from churnguard_ops.performance.kinds import KINDS
from churnguard_ops.performance.model import MetricReport, PerformanceReport, Recommendation
from churnguard_ops.performance.ports import InstanceClasses, MetricReader, ReportStore
from churnguard_ops.performance.report_markdown import render_markdown
from churnguard_ops.performance.series import all_queries
from churnguard_ops.performance.service import MonitorConfig, floor_time, watched_series

MAX_HOURS = 24 * 31


@dataclass(frozen=True)
class ReportRun:
    report: PerformanceReport
    locations: dict[str, str]

    def headline(self) -> dict[str, Any]:
        r = self.report
        breaching = {m.key: m.current.worst_severity for m in r.metrics if m.current.worst_severity}
        return {"hours": r.hours, "window_start": r.window_start.isoformat(), "window_end": r.window_end.isoformat(),
                "metrics": len(r.metrics), "with_data": sum(1 for m in r.metrics if m.current.periods),
                "breaching": breaching, "violations": sum(m.current.violations for m in r.metrics),
                "recommendations": len(r.recommendations), "cloudwatch_queries": r.cloudwatch_queries,
                "cloudwatch_calls": r.cloudwatch_calls, "reports": dict(self.locations)}


_STATISTIC = {"average": "average", "p95": "p95", "p99": "p99", "maximum": "maximum"}


def recommend(metrics: list[MetricReport], rules: tuple[RecommendationRule, ...]) -> list[Recommendation]:
    """Each rule against each series of its kind; it fires when the statistic reaches ``at_least`` x threshold."""
    out = []
    for m in metrics:
        for rule in rules:
            value = getattr(m.current, _STATISTIC[rule.statistic]) if rule.kind == m.kind else None
            if value is None or value / m.threshold < rule.at_least:
                continue
            ratio = value / m.threshold
            evidence = (f"{m.label} {m.resource}: {rule.statistic} {value:,.2f} {m.unit} = {ratio:.2f}x the threshold "
                        f"{m.threshold:,.2f} {m.unit} (rule: >= {rule.at_least:g}x); {m.current.violations} of "
                        f"{m.current.periods} periods over, average {m.current.average:,.2f} {m.unit}")
            out.append(Recommendation(key=m.key, kind=m.kind, resource=m.resource, advice=rule.advice,
                                      evidence=evidence, statistic=rule.statistic, value=value,
                                      threshold=m.threshold, ratio=ratio))
    return sorted(out, key=lambda r: -r.ratio)


class PerformanceReporter:
    def __init__(self, metrics: MetricReader, classes: InstanceClasses, store: ReportStore,
                 notifier: Notifier | None, clock: Clock, config: MonitorConfig) -> None:
        self.metrics = metrics
        self.classes = classes
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.config = config

    def build(self, hours: int | None = None, end: datetime | None = None) -> PerformanceReport:
        cfg = self.config
        hours = hours or cfg.report_hours
        if not 1 <= hours <= MAX_HOURS:
            raise ValueError(f"hours {hours}: a report covers 1..{MAX_HOURS} hours")
        now = self.clock()
        period = cfg.report_period_seconds
        window_end = floor_time(end or now, period)
        window_start = window_end - timedelta(hours=hours)
        series, notes = watched_series(cfg.targets, self.classes)
        read = self.metrics.read(all_queries(series), window_start - timedelta(hours=hours), window_end, period)
        metrics = []
        for s in series:
            values = s.values(read.values, period)
            current = [v for t, v in sorted(values.items()) if window_start <= t < window_end]
            previous = [v for t, v in sorted(values.items()) if t < window_start]
            threshold = cfg.thresholds[s.kind]
            now_stats, before = stats.summarize(current, threshold), stats.summarize(previous, threshold)
            kind = KINDS[s.kind]
            metrics.append(MetricReport(key=s.key, kind=s.kind, label=kind.label, resource=s.resource,
                                        unit=kind.unit, threshold=threshold, current=now_stats, previous=before,
                                        trend=stats.trend(now_stats.average, before.average)))
        missing = [m.key for m in metrics if not m.current.periods]
        if missing:
            notes.append(f"no data in the window for {len(missing)} series: {', '.join(missing)}")
        return PerformanceReport(
            generated_at=now, window_start=window_start, window_end=window_end, hours=hours, period_seconds=period,
            metrics=metrics, recommendations=recommend(metrics, cfg.rules), notes=notes,
            cloudwatch_queries=read.queries, cloudwatch_calls=read.calls,
            definitions=(stats.__doc__ or "").strip())

    def run(self, hours: int | None = None, end: datetime | None = None) -> ReportRun:
        report = self.build(hours, end)
        folder = f"{contracts.PERFORMANCE_REPORTS_PREFIX}{report.window_end:%Y%m%dT%H%MZ}_{report.hours}h/"
        locations = {
            "json": self.store.put(f"{folder}report.json", json.dumps(report.document(), indent=1, sort_keys=True),
                                   "application/json"),
            "markdown": self.store.put(f"{folder}report.md", render_markdown(report), "text/markdown; charset=utf-8"),
        }
        run = ReportRun(report, locations)
        if self.notifier is not None:
            self.notifier.publish(summary_subject(report), summary_message(run))
        return run


def summary_subject(report: PerformanceReport) -> str:
    over = sum(1 for m in report.metrics if m.current.violations)
    return (f"Performance report {report.hours}h: {over} of {len(report.metrics)} metrics over threshold, "
            f"{len(report.recommendations)} recommendation(s)")[:100]


def summary_message(run: ReportRun) -> str:
    report = run.report
    lines = [summary_subject(report),
             f"Window {report.window_start:%Y-%m-%d %H:%M} to {report.window_end:%Y-%m-%d %H:%M} UTC", ""]
    for m in sorted((m for m in report.metrics if m.current.violations),
                    key=lambda m: -(m.current.maximum or 0) / m.threshold)[:5]:
        lines.append(f"- {(m.current.worst_severity or '').upper()} {m.label} {m.resource}: max "
                     f"{m.current.maximum:,.2f} {m.unit} (threshold {m.threshold:,.2f}), {m.current.violations} of "
                     f"{m.current.periods} periods over")
    for rec in report.recommendations[:5]:
        lines.append(f"* {rec.advice} ({rec.evidence})")
    lines.append("")
    lines += [f"{kind}: {location}" for kind, location in run.locations.items()]
    return "\n".join(lines)
