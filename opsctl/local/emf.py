"""CloudWatch embedded metric format (EMF) -> PutMetricData, as CloudWatch Logs extracts it.

On AWS, a Lambda function's EMF log lines (what Powertools' Metrics and single_metric print)
become metrics when the log group receives them. The embedded AWS has no such extraction;
the local runtime hands back the EMF lines a handler printed and ``metric_data`` turns them
into PutMetricData batches, so GetMetricData sees them like any other metric.

Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
- ``_aws.CloudWatchMetrics`` is a list of directives ``{Namespace, Dimensions: [[names...], ...], Metrics: [...]}``;
- each dimension set yields one metric per metric definition (an empty set: no dimensions);
- dimension values and metric values are members of the root object; a metric value is a number
  or a list of numbers (up to 100), each one a sample;
- ``_aws.Timestamp`` is epoch milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MAX_VALUES_PER_DATUM", "metric_data"]

MAX_VALUES_PER_DATUM = 150  # PutMetricData: Values/Counts arrays hold at most 150 distinct values


def metric_data(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """PutMetricData ``MetricData`` lists by namespace, for EMF ``records`` (invalid parts are skipped)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        meta = record.get("_aws")
        if not isinstance(meta, Mapping):
            continue
        timestamp = _timestamp(meta.get("Timestamp"))
        for directive in meta.get("CloudWatchMetrics") or []:
            namespace = directive.get("Namespace")
            if not isinstance(namespace, str) or not namespace:
                continue
            dimension_sets = directive.get("Dimensions") or [[]]
            for definition in directive.get("Metrics") or []:
                name = definition.get("Name") if isinstance(definition, Mapping) else None
                if not isinstance(name, str) or not name:
                    continue
                values = _values(record.get(name))
                if not values:
                    continue
                for names in dimension_sets:
                    dimensions = [{"Name": n, "Value": str(record[n])} for n in names if n in record]
                    if len(dimensions) != len(names):
                        continue  # a dimension without a value: CloudWatch rejects the metric
                    out[namespace].extend(_datums(name, dimensions, values, definition, timestamp))
    return dict(out)


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    return dt.datetime.now(dt.timezone.utc)


def _values(value: Any) -> list[float]:
    items = value if isinstance(value, list) else [value]
    return [float(v) for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _datums(name: str, dimensions: list[dict[str, str]], values: list[float], definition: Mapping[str, Any],
            timestamp: dt.datetime) -> list[dict[str, Any]]:
    counts = Counter(values)
    distinct = list(counts)
    datums = []
    for start in range(0, len(distinct), MAX_VALUES_PER_DATUM):
        chunk = distinct[start:start + MAX_VALUES_PER_DATUM]
        datum: dict[str, Any] = {"MetricName": name, "Dimensions": dimensions, "Timestamp": timestamp,
                                 "Values": chunk, "Counts": [float(counts[v]) for v in chunk]}
        unit = definition.get("Unit")
        if isinstance(unit, str) and unit:
            datum["Unit"] = unit
        if definition.get("StorageResolution") in (1, 60):
            datum["StorageResolution"] = definition["StorageResolution"]
        datums.append(datum)
    return datums
