"""The report over any window: statistics against hand-computed values, the trend against the previous window,
recommendations that cite their numbers, one read for both windows, and the documents written."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from churnguard_ops.core.fakes import RecordingNotifier
from churnguard_ops.performance.config import ApiTarget, RecommendationRule, Targets
from churnguard_ops.performance.report import PerformanceReporter
from churnguard_ops.performance.service import MonitorConfig
from tests.unit.performance_fakes import FakeInstanceClasses, FakeMetricReader, MemoryReportStore

NOW = datetime(2026, 11, 30, 10, 20, tzinfo=timezone.utc)
END = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)  # the hour boundary before NOW
START = END - timedelta(hours=24)
BEFORE = START - timedelta(hours=24)
API = {"ApiName": "churnguard-api"}
DB = {"DBInstanceIdentifier": "churnguard-prod"}
GIB = 2 ** 30
TARGETS = Targets(api=ApiTarget(name="churnguard-api"), functions=["churnguard-worker"], queues=["scoring"],
                  databases=["churnguard-prod"])


def reporter(metrics: FakeMetricReader, **config: object) -> tuple[PerformanceReporter, MemoryReportStore,
                                                                  RecordingNotifier]:
    store, sns = MemoryReportStore(), RecordingNotifier()
    cfg = MonitorConfig(targets=config.pop("targets", TARGETS), **config)  # type: ignore[arg-type]
    return (PerformanceReporter(metrics, FakeInstanceClasses({"churnguard-prod": "db.r6g.large"}), store, sns,
                                lambda: NOW, cfg), store, sns)


@pytest.fixture
def metrics() -> FakeMetricReader:
    m = FakeMetricReader()
    # API p99: previous day 1400 ms for 18 h and 1600 for 6 (avg 1450); this day 1500 for 18 h, 2600 for 6.
    m.hourly("AWS/ApiGateway", "Latency", API, "p99", BEFORE, [1400.0] * 18 + [1600.0] * 6)
    m.hourly("AWS/ApiGateway", "Latency", API, "p99", START, [1500.0] * 18 + [2600.0] * 6)
    # RDS CPU: 40 % all day before, 60 % now; FreeableMemory of a 16 GiB db.r6g.large: 4 GiB free = 75 % used.
    m.hourly("AWS/RDS", "CPUUtilization", DB, "Average", BEFORE, [40.0] * 48)
    m.hourly("AWS/RDS", "CPUUtilization", DB, "Average", START, [60.0] * 24)
    m.hourly("AWS/RDS", "FreeableMemory", DB, "Average", START, [4.0 * GIB] * 24)
    # Worker: 30 errors in one hour = 0.5 per minute; throttles 120 in one hour = 2 per minute.
    m.hourly("AWS/Lambda", "Errors", {"FunctionName": "churnguard-worker"}, "Sum", START, [0.0] * 23 + [30.0])
    m.hourly("AWS/Lambda", "Throttles", {"FunctionName": "churnguard-worker"}, "Sum", START, [0.0] * 23 + [120.0])
    return m


def by_key(report: object) -> dict:
    return {m.key: m for m in report.metrics}  # type: ignore[attr-defined]


def test_statistics_of_the_api_p99_against_hand_computed_values(metrics: FakeMetricReader) -> None:
    report = reporter(metrics)[0].build()
    p99 = by_key(report)["api_latency_p99#churnguard-api"]
    assert (report.window_start, report.window_end, report.hours) == (START, END, 24)
    c = p99.current
    assert (c.periods, c.average, c.minimum, c.maximum, c.p95, c.p99) == (24, 1775.0, 1500.0, 2600.0, 2600.0, 2600.0)
    assert (c.violations, c.worst_severity) == (6, "high")  # 2600 / 2000 = 1.3
    assert p99.previous.average == 1450.0 and p99.previous.violations == 0
    assert p99.trend.delta == 325.0 and p99.trend.pct == pytest.approx(22.4137931)  # 325 / 1450


def test_memory_is_a_percentage_used_of_the_class_memory(metrics: FakeMetricReader) -> None:
    memory = by_key(reporter(metrics)[0].build())["rds_memory#churnguard-prod"]
    assert memory.current.average == 75.0 and memory.unit == "%" and memory.threshold == 85.0


def test_counts_are_judged_per_minute(metrics: FakeMetricReader) -> None:
    m = by_key(reporter(metrics)[0].build())
    errors, throttles = m["lambda_errors#churnguard-worker"], m["lambda_throttles#churnguard-worker"]
    assert errors.current.maximum == 0.5 and errors.current.violations == 0
    assert throttles.current.maximum == 2.0 and throttles.current.worst_severity == "critical"  # 2 / 1 per minute


def test_one_read_covers_this_window_and_the_previous_one(metrics: FakeMetricReader) -> None:
    report = reporter(metrics)[0].build()
    [(queries, start, end, period)] = metrics.reads
    assert (start, end, period) == (BEFORE, END, 3600)
    assert queries == len(report.metrics) == 3 + 4 + 2 + 3 and report.cloudwatch_calls == 1


def test_recommendations_fire_on_their_statistic_and_cite_the_numbers(metrics: FakeMetricReader) -> None:
    report = reporter(metrics)[0].build()
    fired = {(r.key, r.statistic) for r in report.recommendations}
    assert fired == {("api_latency_p99#churnguard-api", "p99"), ("lambda_throttles#churnguard-worker", "maximum")}
    latency = next(r for r in report.recommendations if r.kind == "api_latency_p99")
    assert "cold starts" in latency.advice
    assert latency.evidence == ("API latency p99 churnguard-api: p99 2,600.00 ms = 1.30x the threshold 2,000.00 ms "
                                "(rule: >= 1x); 6 of 24 periods over, average 1,775.00 ms")
    assert report.recommendations[0].kind == "lambda_throttles"  # ordered by ratio: 2.0 before 1.3


def test_configured_rules_and_thresholds_replace_the_defaults(metrics: FakeMetricReader) -> None:
    rule = RecommendationRule(kind="rds_cpu", statistic="average", at_least=0.7, advice="Watch the CPU.")
    thresholds = {**MonitorConfig().thresholds, "rds_cpu": 50.0}
    report = reporter(metrics, rules=(rule,), thresholds=thresholds)[0].build()
    [rec] = report.recommendations
    assert rec.advice == "Watch the CPU." and rec.value == 60.0 and rec.ratio == 1.2
    assert by_key(report)["rds_cpu#churnguard-prod"].current.worst_severity == "medium"  # 60 / 50 = 1.2: >= 1.1, < 1.25


def test_a_window_of_any_length_ending_where_asked(metrics: FakeMetricReader) -> None:
    report = reporter(metrics)[0].build(hours=6, end=END + timedelta(minutes=59))
    p99 = by_key(report)["api_latency_p99#churnguard-api"]
    assert (report.window_start, report.window_end) == (END - timedelta(hours=6), END)
    assert p99.current.average == 2600.0 and p99.previous.average == 1500.0  # the 6 hours before: 1500 ms


def test_hours_out_of_range_are_refused(metrics: FakeMetricReader) -> None:
    with pytest.raises(ValueError, match="1..744 hours"):
        reporter(metrics)[0].build(hours=745)


def test_the_run_writes_json_and_markdown_and_announces_a_summary(metrics: FakeMetricReader) -> None:
    rep, store, sns = reporter(metrics)
    run = rep.run()
    folder = "performance/reports/20261130T1000Z_24h/"
    assert sorted(store.objects) == [f"{folder}report.json", f"{folder}report.md"]
    document = json.loads(store.objects[f"{folder}report.json"][0])
    assert document["hours"] == 24 and len(document["metrics"]) == 12
    markdown = store.objects[f"{folder}report.md"][0]
    assert "| API latency p99 (ms) | churnguard-api | 2,000.00 | 1,775.00 | 1,500.00 | 2,600.00 |" in markdown
    assert "+325.00 (+22.4 %)" in markdown and "nearest rank" in markdown
    [(subject, message)] = sns.messages
    assert subject == "Performance report 24h: 2 of 12 metrics over threshold, 2 recommendation(s)"
    assert "HIGH API latency p99 churnguard-api: max 2,600.00 ms" in message
    assert run.headline()["breaching"] == {"api_latency_p99#churnguard-api": "high",
                                           "lambda_throttles#churnguard-worker": "critical"}


def test_series_without_data_are_listed_in_the_notes(metrics: FakeMetricReader) -> None:
    report = reporter(metrics)[0].build()
    assert any("sqs_depth#scoring" in n and n.startswith("no data in the window") for n in report.notes)
