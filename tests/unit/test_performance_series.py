"""Which CloudWatch queries the targets need, and how their raw values become the judged per-period values."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from churnguard_ops.core import aws
from churnguard_ops.performance.cloudwatch import CloudWatchMetricReader
from churnguard_ops.performance.config import ApiTarget, Targets
from churnguard_ops.performance.instance_memory import memory_bytes
from churnguard_ops.performance.model import RawQuery
from churnguard_ops.performance.series import build_series

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def test_alb_latency_is_converted_to_ms_and_its_5xx_rate_is_a_ratio_of_sums() -> None:
    series, _ = build_series(Targets(api=ApiTarget(type="alb", name="app/churnguard/0123"), functions=[], queues=[],
                                     databases=[]), {})
    by_kind = {s.kind: s for s in series}
    p99 = by_kind["api_latency_p99"]
    assert (p99.queries[0].namespace, p99.queries[0].name, p99.queries[0].stat) == (
        "AWS/ApplicationELB", "TargetResponseTime", "p99")
    assert p99.values({p99.queries[0].id: {T0: 0.25}}, 300) == {T0: 250.0}
    rate = by_kind["api_5xx_rate"]
    raw = {rate.queries[0].id: {T0: 3.0}, rate.queries[1].id: {T0: 600.0, T1: 0.0}}
    assert rate.values(raw, 300) == {T0: 0.5}  # 3 of 600 requests; a period without requests is skipped


def test_api_gateway_5xx_average_is_the_failed_share_in_percent() -> None:
    series, _ = build_series(Targets(api=ApiTarget(name="churnguard-api", stage="prod"), functions=[], queues=[],
                                     databases=[]), {})
    rate = next(s for s in series if s.kind == "api_5xx_rate")
    assert dict(rate.queries[0].dimensions) == {"ApiName": "churnguard-api", "Stage": "prod"}
    assert rate.values({rate.queries[0].id: {T0: 0.02}}, 300) == {T0: 2.0}


def test_every_configured_target_gets_its_series_with_distinct_query_ids() -> None:
    series, notes = build_series(Targets(), {"churnguard-prod": memory_bytes("db.r6g.large")})
    kinds = sorted({s.kind for s in series})
    assert len(kinds) == 12 and notes == []
    ids = [q.id for s in series for q in s.queries]
    assert len(ids) == len(set(ids)) == 3 + 2 * 4 + 2 + 3


def test_the_memory_table_knows_churnguard_classes() -> None:
    assert memory_bytes("db.r6g.large") == 16 * 2 ** 30
    assert memory_bytes("db.t3.medium") == 4 * 2 ** 30
    assert memory_bytes("db.m5.4xlarge") == 64 * 2 ** 30
    assert memory_bytes("db.unknown.large") is None


class _Client:
    """GetMetricData as AWS answers it: pages with NextToken, results per query id."""

    def __init__(self, pages_per_batch: int = 1, failed: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.pages_per_batch = pages_per_batch
        self.failed = failed

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        page = int(kwargs.get("NextToken", "0"))
        results = [{"Id": q["Id"], "Timestamps": [T0 if page == 0 else T1], "Values": [float(page + 1)],
                    "StatusCode": "InternalError" if q["Id"] == self.failed else "Complete"}
                   for q in kwargs["MetricDataQueries"]]
        more = {"NextToken": str(page + 1)} if page + 1 < self.pages_per_batch else {}
        return {"MetricDataResults": results, **more}


def _queries(n: int) -> list[RawQuery]:
    return [RawQuery(f"q{i}", "AWS/Lambda", "Errors", (("FunctionName", f"f{i}"),), "Sum") for i in range(n)]


def test_the_reader_batches_500_queries_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _Client()
    monkeypatch.setattr(aws, "client", lambda service, region=None: client)
    read = CloudWatchMetricReader().read(_queries(1001), T0, T1, 300)
    assert [len(c["MetricDataQueries"]) for c in client.calls] == [500, 500, 1]
    assert read.calls == 3 and read.queries == 1001 and read.values["q1000"] == {T0: 1.0}


def test_the_reader_follows_next_token_and_drops_failed_results(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _Client(pages_per_batch=2, failed="q1")
    monkeypatch.setattr(aws, "client", lambda service, region=None: client)
    read = CloudWatchMetricReader().read(_queries(2), T0, T1, 300)
    assert read.calls == 2 and client.calls[1]["NextToken"] == "1"
    assert read.values["q0"] == {T0: 1.0, T1: 2.0}
    assert read.values["q1"] == {} and read.failed == ["q1", "q1"]
