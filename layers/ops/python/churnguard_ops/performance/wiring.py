"""Composition root of the performance capability: settings + AWS adapters -> the use cases."""
from __future__ import annotations

from datetime import datetime

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.stores import EventBridgePublisher, SnsNotifier
from churnguard_ops.performance.adapters import (
    CloudWatchMetricReader,
    DynamoAlertStates,
    RdsInstanceClasses,
    S3ReportStore,
)
from churnguard_ops.performance.report import PerformanceReporter, ReportRun
from churnguard_ops.performance.service import MonitorConfig, PerformanceMonitor
from churnguard_ops.performance.settings import PerformanceSettings


def config(settings: PerformanceSettings) -> MonitorConfig:
    return MonitorConfig(targets=settings.targets, thresholds=settings.merged_thresholds(), rules=settings.rule_set(),
                         check_period_seconds=settings.check_period_seconds, check_periods=settings.check_periods,
                         report_period_seconds=settings.report_period_seconds, report_hours=settings.report_hours,
                         state_ttl_days=settings.state_ttl_days)


def monitor(settings: PerformanceSettings | None = None) -> PerformanceMonitor:
    settings = settings or PerformanceSettings()
    region = aws.default_region()
    return PerformanceMonitor(
        CloudWatchMetricReader(region), RdsInstanceClasses(region), DynamoAlertStates(settings.state_table, region),
        EventBridgePublisher(contracts.PERFORMANCE_EVENT_SOURCE, region=region),
        SnsNotifier(settings.topic_arn, region) if settings.topic_arn else None, utcnow, config(settings))


def reporter(settings: PerformanceSettings | None = None) -> PerformanceReporter:
    settings = settings or PerformanceSettings()
    region = aws.default_region()
    return PerformanceReporter(
        CloudWatchMetricReader(region), RdsInstanceClasses(region),
        S3ReportStore(settings.reports_bucket, settings.kms_key_arn, region),
        SnsNotifier(settings.topic_arn, region) if settings.topic_arn else None, utcnow, config(settings))


def generate_performance_report(hours: int | None = None, end: datetime | None = None) -> ReportRun:
    """The seed profiler's entry point, over any window: the report of the ``hours`` before ``end`` (default:
    the configured hours, now), written to S3 and announced on the ops topic."""
    return reporter().run(hours=hours, end=end)
