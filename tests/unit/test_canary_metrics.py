"""The GetMetricData request: one for every metric, valid ids, per-version dimensions, lenient parsing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from churnguard_ops.canary import metrics
from churnguard_ops.canary.metrics import QUERY_ID, build_queries, parse_results, window
from churnguard_ops.canary.model import BusinessMetric
from churnguard_ops.core import contracts

BUSINESS = BusinessMetric(namespace=contracts.CANARY_SAMPLE_NAMESPACE, name=contracts.CANARY_SAMPLE_METRIC,
                          dimensions={"FunctionName": "churnguard-api"})


def dims(query: dict) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}


def test_lambda_metrics_of_both_versions_through_the_alias() -> None:
    queries = {q["Id"]: q for q in build_queries("churnguard-api", "live", "8", "7", None, 300)}
    assert set(queries) == {"invocations_canary", "errors_canary", "p99_ms_canary",
                            "invocations_baseline", "errors_baseline", "p99_ms_baseline"}
    assert dims(queries["errors_canary"]) == {"FunctionName": "churnguard-api", "Resource": "churnguard-api:live",
                                              "ExecutedVersion": "8"}
    assert dims(queries["p99_ms_baseline"])["ExecutedVersion"] == "7"
    stat = queries["p99_ms_canary"]["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]) == (
        "AWS/Lambda", "Duration", "p99", 300)
    assert queries["invocations_canary"]["MetricStat"]["Stat"] == "Sum"
    assert all(QUERY_ID.match(i) for i in queries)


def test_the_business_metric_carries_the_version_dimension() -> None:
    queries = {q["Id"]: q for q in build_queries("churnguard-api", "live", "8", "7", BUSINESS, 60)}
    assert dims(queries["business_canary"]) == {"FunctionName": "churnguard-api", "Version": "8"}
    assert dims(queries["business_baseline"]) == {"FunctionName": "churnguard-api", "Version": "7"}
    assert queries["business_canary"]["MetricStat"]["Metric"]["Namespace"] == "ChurnGuard/Api"
    named = BUSINESS.model_copy(update={"version_dimension": "AppVersion"})
    assert "AppVersion" in dims(next(q for q in build_queries("f", "a", "8", "7", named, 60)
                                     if q["Id"] == "business_canary"))


def test_more_than_500_queries_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "MAX_QUERIES", 7)
    with pytest.raises(ValueError, match="8 metric queries, GetMetricData takes at most 7"):
        build_queries("f", "a", "8", "7", BUSINESS, 60)


def test_missing_and_empty_series_are_zero_samples_not_errors() -> None:
    samples = parse_results({"invocations_canary": [], "errors_baseline": [3.0]}, "8", "7", BUSINESS)
    assert (samples.canary.invocations, samples.canary.errors, samples.canary.p99_ms) == (0, 0, None)
    assert samples.canary.business is None and samples.baseline.errors == 3


def test_two_datapoints_add_up_and_the_p99_takes_the_larger() -> None:
    samples = parse_results({"invocations_canary": [60.0, 40.0], "errors_canary": [1.0, 1.0],
                             "p99_ms_canary": [250.0, 410.0], "business_canary": [59.0, 40.0]}, "8", "7", BUSINESS)
    assert (samples.canary.invocations, samples.canary.errors, samples.canary.p99_ms) == (100, 2, 410)
    assert samples.canary.business_value(BUSINESS) == pytest.approx(0.99)
    assert samples.canary.error_rate_pct == 2.0


def test_the_window_is_whole_minutes_since_the_step_started() -> None:
    started = datetime(2026, 11, 28, 10, 0, 20, tzinfo=timezone.utc)
    start, end, period = window(started, started + timedelta(minutes=7, seconds=5))
    assert start == datetime(2026, 11, 28, 10, 1, tzinfo=timezone.utc)  # the shift's minute mixes weights
    assert end == datetime(2026, 11, 28, 10, 7, tzinfo=timezone.utc)
    assert period == 360
    short_start, short_end, short_period = window(started, started + timedelta(seconds=10))
    assert short_end - short_start == timedelta(minutes=1) and short_period == 60


def test_a_high_resolution_window_is_whole_periods_of_that_length_since_the_shift():
    from datetime import datetime, timezone

    from churnguard_ops.canary.metrics import window

    shifted = datetime(2026, 11, 30, 10, 0, 7, 500000, tzinfo=timezone.utc)
    now = datetime(2026, 11, 30, 10, 0, 33, tzinfo=timezone.utc)
    start, end, period = window(shifted, now, resolution=5)
    assert (start.second, end.second, period) == (10, 30, 5)  # the shift's own 5 s and the current 5 s excluded
    start, end, period = window(shifted, now)  # standard resolution: nothing whole yet, one minute ahead
    assert (start.minute, end.minute, period) == (1, 2, 60)
