"""The 5-minute check: one batched read, graded readings, and deduplicated alerts (breach once, again when the
severity rises, a recovered notice, a new breach after recovery), claimed conditionally."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from churnguard_ops.core.contracts import PERFORMANCE_ALERT_DETAIL_TYPE
from churnguard_ops.core.fakes import RecordingEvents, RecordingNotifier
from churnguard_ops.performance.config import ApiTarget, Targets
from churnguard_ops.performance.grading import Severity
from churnguard_ops.performance.model import AlertState
from churnguard_ops.performance.service import MonitorConfig, PerformanceMonitor, floor_time, transition
from tests.unit.performance_fakes import FakeInstanceClasses, FakeMetricReader, MemoryAlertStates

NOW = datetime(2026, 11, 30, 10, 7, 30, tzinfo=timezone.utc)
LATENCY = ("AWS/ApiGateway", "Latency", {"ApiName": "churnguard-api"}, "p99")
TARGETS = Targets(api=ApiTarget(name="churnguard-api"), functions=[], queues=[], databases=["churnguard-prod"])


class World:
    def __init__(self, targets: Targets = TARGETS) -> None:
        self.now = NOW
        self.metrics = FakeMetricReader()
        self.states = MemoryAlertStates()
        self.events = RecordingEvents()
        self.sns = RecordingNotifier()
        self.monitor = PerformanceMonitor(self.metrics, FakeInstanceClasses({"churnguard-prod": "db.r6g.large"}),
                                          self.states, self.events, self.sns, lambda: self.now,
                                          MonitorConfig(targets=targets))

    def p99(self, value: float) -> None:
        """The latest complete 5-minute period's API p99."""
        period_start = floor_time(self.now, 300) - timedelta(minutes=5)
        self.metrics.put(*LATENCY, {period_start: value})

    def tick(self, value: float) -> list[tuple[str, str | None]]:
        self.now += timedelta(minutes=5)
        self.p99(value)
        result = self.monitor.check()
        return [(a.transition, a.reading.severity) for a in result.alerts]


@pytest.mark.parametrize(("prior", "current", "expected"), [
    (None, None, (None, None)),
    (None, Severity.LOW, ("breach", Severity.LOW)),
    (Severity.MEDIUM, Severity.MEDIUM, (None, Severity.MEDIUM)),
    (Severity.MEDIUM, Severity.HIGH, ("escalated", Severity.HIGH)),
    (Severity.HIGH, Severity.MEDIUM, (None, Severity.HIGH)),  # remembers the peak: no alert on the way down
    (Severity.HIGH, None, ("recovered", None)),
])
def test_transition_table(prior: Severity | None, current: Severity | None, expected: tuple) -> None:
    assert transition(prior, current) == expected


def test_a_metric_that_stays_high_alerts_once_then_on_a_rise_then_recovers_and_alerts_anew() -> None:
    w = World()
    assert w.tick(2600) == [("breach", "high")]  # 1.3x
    assert w.tick(2700) == []  # still high
    assert w.tick(2300) == []  # down to medium: no news
    assert w.tick(3100) == [("escalated", "critical")]  # 1.55x
    assert w.tick(1900) == [("recovered", None)]
    assert w.tick(1950) == []
    assert w.tick(2250) == [("breach", "medium")]  # a new breach after recovery


def test_an_alert_goes_to_eventbridge_and_the_ops_topic_with_its_numbers() -> None:
    w = World()
    w.tick(2600)
    [(detail_type, detail)] = w.events.events
    assert detail_type == PERFORMANCE_ALERT_DETAIL_TYPE
    assert detail["transition"] == "breach" and detail["severity"] == "high"
    assert detail["key"] == "api_latency_p99#churnguard-api"
    assert (detail["value"], detail["threshold"], detail["ratio"]) == (2600.0, 2000.0, 1.3)
    [(subject, message)] = w.sns.messages
    assert subject == "Performance HIGH: API latency p99 churnguard-api"
    assert "2,600.00 ms = 1.30x the threshold 2,000.00 ms" in message


def test_the_check_reads_every_series_in_one_call_over_the_last_three_periods() -> None:
    w = World()
    w.p99(1000)
    result = w.monitor.check()
    assert w.metrics.calls == 1 and result.cloudwatch_calls == 1
    # API: 3 series; database: CPU, memory (class known), connections.
    [(queries, start, end, period)] = w.metrics.reads
    assert (queries, period) == (6, 300)
    assert end == datetime(2026, 11, 30, 10, 5, tzinfo=timezone.utc) and end - start == timedelta(minutes=15)
    assert result.series == 6 and [r.key for r in result.readings] == ["api_latency_p99#churnguard-api"]
    assert len(result.no_data) == 5


def test_six_hundred_series_take_two_calls() -> None:
    many = Targets(api=None, functions=[f"fn-{i}" for i in range(150)], queues=[], databases=[])  # 4 series each
    w = World(many)
    result = w.monitor.check()
    assert result.cloudwatch_queries == 600 and result.cloudwatch_calls == 2


def test_a_metric_without_data_keeps_its_breach() -> None:
    w = World()
    assert w.tick(2600) == [("breach", "high")]
    w.now += timedelta(minutes=30)  # nothing published since
    assert w.monitor.check().alerts == []
    assert w.states.items["api_latency_p99#churnguard-api"].severity == "high"


def test_an_overlapping_run_that_claimed_the_breach_first_stops_this_one_from_alerting() -> None:
    w = World()
    w.now += timedelta(minutes=5)
    w.p99(2600)
    w.states.racer["api_latency_p99#churnguard-api"] = AlertState(severity="high", version=1, since="x")
    result = w.monitor.check()
    assert result.alerts == [] and result.skipped_claims == ["api_latency_p99#churnguard-api"]
    assert w.events.events == [] and w.sns.messages == []


def test_claims_expire_after_the_ttl() -> None:
    w = World()
    w.tick(2600)
    expected = int((w.now + timedelta(days=7)).timestamp())
    assert w.states.expires["api_latency_p99#churnguard-api"] == expected


def test_the_memory_of_a_database_of_unknown_class_is_not_judged_and_the_check_says_so() -> None:
    w = World()
    w.monitor.classes = FakeInstanceClasses({"churnguard-prod": "db.x9z.huge"})
    result = w.monitor.check()
    assert result.series == 5
    assert any("db.x9z.huge is not in the memory table" in n for n in result.notes)


class _FailingEvents(RecordingEvents):
    def publish(self, detail_type: str, detail: dict) -> None:
        raise RuntimeError("EventBridge unavailable")


def test_a_failed_publish_releases_the_claims_so_the_retry_alerts() -> None:
    w = World()
    w.tick(2600)  # breach (high) told
    w.now += timedelta(minutes=5)
    w.p99(3100)
    w.monitor.events = _FailingEvents()
    with pytest.raises(RuntimeError, match="EventBridge unavailable"):
        w.monitor.check()
    assert w.states.items["api_latency_p99#churnguard-api"].severity == "high"  # the escalation was undone
    w.monitor.events = w.events
    assert [(a.transition, a.reading.severity) for a in w.monitor.check().alerts] == [("escalated", "critical")]


def test_a_failed_first_alert_leaves_no_state_behind() -> None:
    w = World()
    w.now += timedelta(minutes=5)
    w.p99(2600)
    w.monitor.notifier = None
    w.monitor.events = _FailingEvents()
    with pytest.raises(RuntimeError):
        w.monitor.check()
    assert w.states.items == {}
