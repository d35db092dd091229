"""One ``GetMetricData`` request for everything a step is judged on. Pure: queries out, samples in.

Per version (canary and baseline), through the alias:

- ``AWS/Lambda`` ``Invocations`` (Sum), ``Errors`` (Sum), ``Duration`` (p99) with dimensions
  ``FunctionName``, ``Resource`` = ``<function>:<alias>``, ``ExecutedVersion`` = the version;
- the business metric (if configured) with its own dimensions plus its version dimension.

The period is the whole window (rounded up to whole minutes), so each query returns one datapoint,
two when CloudWatch's period boundaries cut the window: Sums are added, a p99 takes the larger value
(the conservative reading; percentiles cannot be combined exactly). A missing or empty series is 0
samples, never an error.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from churnguard_ops.canary.model import BusinessMetric, VersionSamples, WindowSamples

#: GetMetricData accepts at most 500 queries in one request.
MAX_QUERIES = 500
QUERY_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
ROLES = ("canary", "baseline")
_LAMBDA = (("invocations", "Invocations", "Sum"), ("errors", "Errors", "Sum"), ("p99_ms", "Duration", "p99"))


def window(step_started_at: datetime, now: datetime, resolution: int = 60) -> tuple[datetime, datetime, int]:
    """The whole periods since the step started: ``(start, end, period_seconds)``.

    Start is rounded up (the period the shift happened in mixes the previous weight), end down (the
    current period is incomplete). Standard resolution (60 s, what AWS/Lambda publishes): one period
    spanning every whole minute. High resolution (1, 5, 10 or 30 s, for metrics published that finely,
    and the embedded AWS): periods of that length, summed (counts) or maxed (p99) by ``parse_results``.
    Shorter than a period: one period ending in the future, whose counts are too small to be judged.
    """
    start = _floor(step_started_at, resolution)
    if start < step_started_at:
        start += timedelta(seconds=resolution)
    end = _floor(now, resolution)
    if end <= start:
        end = start + timedelta(seconds=resolution)
    if resolution < 60:
        return start, end, resolution
    period = max(60, math.ceil((end - start).total_seconds() / 60) * 60)
    return start, end, period


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = moment.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=moment.tzinfo)


def build_queries(function_name: str, alias: str, canary_version: str, baseline_version: str,
                  business: BusinessMetric | None, period: int) -> list[dict[str, Any]]:
    """``MetricDataQueries`` for one GetMetricData call; ids are ``<field>_<role>``."""
    queries: list[dict[str, Any]] = []
    for role, version in (("canary", canary_version), ("baseline", baseline_version)):
        dimensions = {"FunctionName": function_name, "Resource": f"{function_name}:{alias}",
                      "ExecutedVersion": version}
        for field, name, stat in _LAMBDA:
            queries.append(metric_query(f"{field}_{role}", "AWS/Lambda", name, dimensions, stat, period))
        if business is not None:
            queries.append(metric_query(f"business_{role}", business.namespace, business.name,
                                  {**business.dimensions, business.version_dimension: version},
                                  business.statistic, period))
    if len(queries) > MAX_QUERIES:
        raise ValueError(f"{len(queries)} metric queries, GetMetricData takes at most {MAX_QUERIES}")
    return queries


def metric_query(query_id: str, namespace: str, name: str, dimensions: dict[str, str], stat: str,
           period: int) -> dict[str, Any]:
    if not QUERY_ID.match(query_id):
        raise ValueError(f"invalid GetMetricData query id {query_id!r}")
    return {"Id": query_id, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": name,
                   "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]},
        "Period": period, "Stat": stat}}


def parse_results(values: dict[str, list[float]], canary_version: str, baseline_version: str,
                  business: BusinessMetric | None) -> WindowSamples:
    """``values``: query id -> datapoint values (what :class:`MetricsSource.fetch` returns)."""
    versions = {"canary": canary_version, "baseline": baseline_version}
    samples: dict[str, VersionSamples] = {}
    for role in ROLES:
        p99 = values.get(f"p99_ms_{role}") or []
        business_values = values.get(f"business_{role}") or []
        samples[role] = VersionSamples(
            version=versions[role],
            invocations=sum(values.get(f"invocations_{role}") or []),
            errors=sum(values.get(f"errors_{role}") or []),
            p99_ms=max(p99) if p99 else None,
            business=_combine(business_values, business) if business is not None else None)
    return WindowSamples(canary=samples["canary"], baseline=samples["baseline"])


def _combine(values: list[float], metric: BusinessMetric | None) -> float | None:
    if not values:
        return None
    assert metric is not None
    if metric.per_invocation:
        return sum(values)
    if metric.statistic == "Minimum":
        return min(values)
    if metric.statistic == "Average":
        return sum(values) / len(values)
    return max(values)  # Maximum, percentiles: the conservative reading
