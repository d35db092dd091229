"""CloudWatch GetMetricData (:class:`~churnguard_ops.cost.ports.MetricSource`): the evidence behind
recommendations, in batches of at most 500 queries per call, each batch's NextToken pages followed.

Each :class:`MetricQuery` becomes one ``MetricStat`` query with ``Stat`` = ``query.statistic`` (``Average``,
``Maximum``, ``Sum``, or a percentile such as ``p95``) over ``period_seconds`` periods. ``query.unit`` only
labels the evidence: it is not sent as a filter, because a unit that differs from the one the metric was
published with would silently select nothing.

What :class:`Evidence` says about the series of per-period values ``v`` (one per period with data):

- ``average``: the mean of ``v`` (every period weighs the same, whatever its sample count);
- ``p95``: the nearest-rank 95th percentile of ``v`` (the value at rank ceil(0.95 n) of the sorted values);
- ``maximum``: the largest of ``v``; ``points``: how many periods had data.

So for an ``Average`` query ``p95`` is the 95th percentile of the hourly averages; for a ``Sum`` query the
statistics are of the per-period sums (network bytes, EBS operations per period); for a ``p95`` query (our
``cpu_p95``) ``v`` are the hourly p95s: ``p95`` is the 95th percentile of the hourly p95s -- the window's own
p95 cannot be rebuilt from per-period percentiles, and this one is robust to a single spiky hour -- while
``maximum`` is the worst hour's p95. A result CloudWatch marks ``InternalError`` or ``Forbidden`` gives no
evidence (``points`` 0), never a partial series that would look idle.

``usage.cloudwatch_metrics`` += number of queries; ``usage.cloudwatch_calls`` += GetMetricData calls made
(NextToken pages included).
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import OpsError, guarded
from churnguard_ops.cost.model import ApiUsage, Evidence, MetricQuery

logger = logging.getLogger(__name__)

#: GetMetricData's limit on queries per request.
MAX_QUERIES_PER_CALL = 500
_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_FAILED = {"InternalError", "Forbidden"}
_MAX_PAGES = 1000  # per batch; a runaway token loop is a bug


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when there are none); p100 is the maximum."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(query: MetricQuery, values: Sequence[float], period_seconds: int, window_days: int) -> Evidence:
    """The evidence of one query from its per-period values (see the module docstring)."""
    return Evidence(
        metric=query.metric, namespace=query.namespace, name=query.name, statistic=query.statistic,
        average=sum(values) / len(values) if values else None,
        p95=percentile(values, 95),
        maximum=max(values) if values else None,
        points=len(values), period_seconds=period_seconds, window_days=window_days, unit=query.unit,
    )


def metric_data_query(query: MetricQuery, period_seconds: int) -> dict[str, Any]:
    return {
        "Id": query.id,
        "MetricStat": {
            "Metric": {"Namespace": query.namespace, "MetricName": query.name,
                       "Dimensions": [{"Name": name, "Value": value}
                                      for name, value in sorted(query.dimensions.items())]},
            "Period": period_seconds,
            "Stat": query.statistic,
        },
        "ReturnData": True,
    }


class CloudWatchMetricSource:
    """GetMetricData through ``core.aws`` (adaptive retries; errors as ``core.errors``)."""

    def __init__(self, region: str | None = None, *, batch_size: int = MAX_QUERIES_PER_CALL) -> None:
        if not 1 <= batch_size <= MAX_QUERIES_PER_CALL:
            raise ValueError(f"batch_size {batch_size}: GetMetricData takes 1..{MAX_QUERIES_PER_CALL} queries")
        self.region = region
        self.batch_size = batch_size

    def evidence(self, queries: Sequence[MetricQuery], start: datetime, end: datetime, period_seconds: int,
                 usage: ApiUsage) -> dict[str, Evidence]:
        _check_ids(queries)
        window_days = max(1, round((end - start).total_seconds() / 86400))
        values: dict[str, list[float]] = {query.id: [] for query in queries}
        failed: set[str] = set()
        for first in range(0, len(queries), self.batch_size):
            batch = queries[first:first + self.batch_size]
            usage.cloudwatch_calls += self._fetch(batch, start, end, period_seconds, values, failed)
        usage.cloudwatch_metrics += len(queries)
        return {query.id: summarize(query, [] if query.id in failed else values[query.id], period_seconds,
                                    window_days)
                for query in queries}

    def _fetch(self, batch: Sequence[MetricQuery], start: datetime, end: datetime, period_seconds: int,
               values: dict[str, list[float]], failed: set[str]) -> int:
        """One batch, every page; returns the number of calls made."""
        client = aws.client("cloudwatch", self.region)
        kwargs: dict[str, Any] = {"MetricDataQueries": [metric_data_query(q, period_seconds) for q in batch],
                                  "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
        what = f"read {len(batch)} metrics {start.isoformat()}..{end.isoformat()}"
        for calls in range(1, _MAX_PAGES + 1):
            page = guarded(what, client.get_metric_data, **kwargs)
            for result in page.get("MetricDataResults", []):
                if result.get("Id") not in values:
                    continue
                if result.get("StatusCode") in _FAILED:
                    logger.warning("%s: %s: %s %s", what, result["Id"], result["StatusCode"],
                                   result.get("Messages", ""))
                    failed.add(result["Id"])
                values[result["Id"]].extend(float(v) for v in result.get("Values", []))
            token = page.get("NextToken")
            if not token:
                return calls
            kwargs["NextToken"] = token
        raise OpsError(f"{what}: more than {_MAX_PAGES} pages; stopped following NextToken")


def _check_ids(queries: Sequence[MetricQuery]) -> None:
    seen: set[str] = set()
    for query in queries:
        if not _ID.match(query.id):
            raise ValueError(f"metric query id {query.id!r}: GetMetricData ids match {_ID.pattern}")
        if query.id in seen:
            raise ValueError(f"metric query id {query.id!r} appears twice")
        seen.add(query.id)
