"""GetMetricData (:class:`~churnguard_ops.performance.ports.MetricReader`): all queries of a run in batches of at
most 500 (one call for up to 500 series), NextToken pages followed, values kept by period start.

A result CloudWatch marks ``InternalError`` or ``Forbidden`` is dropped (listed in ``failed``), never kept as
a partial series that would look healthy.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import OpsError, guarded
from churnguard_ops.performance.model import MetricRead, RawQuery

logger = logging.getLogger(__name__)

MAX_QUERIES_PER_CALL = 500
_FAILED = {"InternalError", "Forbidden"}
_MAX_PAGES = 100


def metric_data_query(query: RawQuery, period_seconds: int) -> dict[str, Any]:
    return {"Id": query.id, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": query.namespace, "MetricName": query.name,
                   "Dimensions": [{"Name": k, "Value": v} for k, v in query.dimensions]},
        "Period": period_seconds, "Stat": query.stat}}


def _utc(moment: Any) -> datetime:
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(moment), tz=timezone.utc)


class CloudWatchMetricReader:
    def __init__(self, region: str | None = None, *, batch_size: int = MAX_QUERIES_PER_CALL) -> None:
        if not 1 <= batch_size <= MAX_QUERIES_PER_CALL:
            raise ValueError(f"batch_size {batch_size}: GetMetricData takes 1..{MAX_QUERIES_PER_CALL} queries")
        self.region = region
        self.batch_size = batch_size

    def read(self, queries: Sequence[RawQuery], start: datetime, end: datetime, period_seconds: int) -> MetricRead:
        result = MetricRead(values={q.id: {} for q in queries}, calls=0, queries=len(queries))
        for first in range(0, len(queries), self.batch_size):
            self._batch(queries[first:first + self.batch_size], start, end, period_seconds, result)
        for query_id in result.failed:
            result.values[query_id] = {}
        return result

    def _batch(self, batch: Sequence[RawQuery], start: datetime, end: datetime, period_seconds: int,
               result: MetricRead) -> None:
        client = aws.client("cloudwatch", self.region)
        kwargs: dict[str, Any] = {"MetricDataQueries": [metric_data_query(q, period_seconds) for q in batch],
                                  "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"}
        what = f"read {len(batch)} performance metrics {start.isoformat()}..{end.isoformat()}"
        for _ in range(_MAX_PAGES):
            page = guarded(what, client.get_metric_data, **kwargs)
            result.calls += 1
            for item in page.get("MetricDataResults", []):
                values = result.values.get(item.get("Id", ""))
                if values is None:
                    continue
                if item.get("StatusCode") in _FAILED:
                    logger.warning("%s: %s: %s", what, item["Id"], item["StatusCode"])
                    result.failed.append(item["Id"])
                for moment, value in zip(item.get("Timestamps", []), item.get("Values", []), strict=False):
                    values[_utc(moment)] = float(value)
            token = page.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token
        raise OpsError(f"{what}: more than {_MAX_PAGES} pages; stopped following NextToken")
