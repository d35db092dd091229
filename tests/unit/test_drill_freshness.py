"""The age of each source's last successful drill: what the "no success within N days" alarm compares."""
from __future__ import annotations

from datetime import timedelta

from churnguard_ops.core.fakes import RecordingMetrics
from churnguard_ops.drill.freshness import METRIC, DrillFreshness, seconds_since
from tests.unit.drill_fakes import T0, FakeDrillHistory

NOW = T0 + timedelta(days=3)


def _item(source: str, passed: bool, reported_at) -> dict:
    return {"source_instance": source, "passed": passed, "reported_at": reported_at.isoformat()}


def test_age_is_now_minus_the_last_success_in_seconds():
    assert seconds_since(NOW - timedelta(days=8, seconds=1), NOW) == 8 * 86400 + 1
    assert seconds_since(None, NOW) is None  # never succeeded: nothing to emit, the alarm's missing data


def test_a_success_reported_ahead_of_this_clock_is_zero_seconds_old_not_negative():
    assert seconds_since(NOW + timedelta(seconds=30), NOW) == 0


def test_the_newest_passed_drill_counts_and_failed_later_ones_do_not():
    history = FakeDrillHistory([
        _item("churnguard-prod", True, NOW - timedelta(days=9)),
        _item("churnguard-prod", True, NOW - timedelta(days=6, hours=1)),  # a drill that ran a day late
        _item("churnguard-prod", False, NOW - timedelta(hours=2)),  # failed: does not reset the clock
        _item("churnguard-analytics", True, NOW - timedelta(days=1)),
    ])
    metrics = RecordingMetrics()
    result = DrillFreshness(["churnguard-prod", "churnguard-analytics"], history, metrics, clock=lambda: NOW).emit()
    assert metrics.points == [
        (METRIC, (6 * 24 + 1) * 3600, {"SourceDBInstance": "churnguard-prod"}),
        (METRIC, 86400, {"SourceDBInstance": "churnguard-analytics"}),
    ]
    assert result["sources"]["churnguard-prod"]["seconds"] == (6 * 24 + 1) * 3600


def test_a_source_that_never_passed_a_drill_emits_nothing():
    metrics = RecordingMetrics()
    history = FakeDrillHistory([_item("churnguard-prod", False, NOW - timedelta(days=1))])
    result = DrillFreshness(["churnguard-prod"], history, metrics, clock=lambda: NOW).emit()
    assert metrics.points == [] and result["sources"]["churnguard-prod"] == {"last_success": None, "seconds": None}

