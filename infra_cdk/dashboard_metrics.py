"""The metrics a synthesized dashboard or alarm reads, and which of them nobody emits.

Pure functions over template JSON, shared by the infra tests and ``opsctl demo``'s dashboard step:

- ``dashboard_body`` resolves a ``DashboardBody`` (a string, or the ``Fn::Join`` CDK writes when a widget
  names the region) into the dashboard's JSON;
- ``body_metrics`` lists each graphed metric of it (``"."`` repeats the row above, as the console writes it;
  math expression rows have no metric of their own and are skipped);
- ``alarm_metrics`` lists the metrics an ``AWS::CloudWatch::Alarm`` reads (single metric or metric math);
- ``unmatched`` returns the metrics no catalogue entry matches: same namespace and dimension names, the
  name and each value equal or ``"*"`` in the catalogue entry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WILDCARD = "*"


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
        return cls(namespace, name, tuple(sorted(dimensions.items())))

    def __str__(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions)
        return f"{self.namespace} {self.name} {{{dims}}}"


def _resolve(value: Any, refs: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in refs:
        return refs[value["Ref"]]
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_resolve(part, refs) for part in parts)
    raise ValueError(f"cannot resolve {json.dumps(value)[:120]} (only strings, Fn::Join and Ref of {sorted(refs)})")


def dashboard_body(body: Any, *, region: str = "us-east-1", account: str = "123456789012") -> dict[str, Any]:
    """The dashboard JSON of a synthesized ``DashboardBody`` property."""
    text = _resolve(body, {"AWS::Region": region, "AWS::AccountId": account, "AWS::URLSuffix": "amazonaws.com",
                           "AWS::Partition": "aws"})
    parsed = json.loads(text)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("widgets"), list):
        raise ValueError("a dashboard body is an object with a list of widgets")
    return parsed


def body_metrics(body: Mapping[str, Any]) -> list[tuple[str, MetricKey]]:
    """(widget title, metric) for each metric row of each metric widget."""
    found: list[tuple[str, MetricKey]] = []
    for widget in body.get("widgets", []):
        props = widget.get("properties") or {}
        if widget.get("type") != "metric":
            continue
        title = str(props.get("title", ""))
        previous: list[Any] = []
        for row in props.get("metrics") or []:
            items = [item for item in row if not isinstance(item, dict)]  # the trailing options object
            if not items:
                continue  # an expression row: its inputs are rows of their own
            items = [previous[i] if item == "." and i < len(previous) else item for i, item in enumerate(items)]
            previous = items
            if len(items) < 2 or len(items) % 2:
                raise ValueError(f"widget {title!r}: a metric row is [namespace, name, (dimension, value)...]: {row}")
            namespace, name, *pairs = (str(item) for item in items)
            found.append((title, MetricKey.of(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)))))
    return found


def alarm_metrics(properties: Mapping[str, Any]) -> list[MetricKey]:
    """The metrics one ``AWS::CloudWatch::Alarm`` reads."""
    def key(namespace: str, name: str, dimensions: Iterable[Mapping[str, str]] | None) -> MetricKey:
        return MetricKey.of(namespace, name, {d["Name"]: d["Value"] for d in dimensions or []})

    if "MetricName" in properties:
        return [key(properties["Namespace"], properties["MetricName"], properties.get("Dimensions"))]
    return [key(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"],
                m["MetricStat"]["Metric"].get("Dimensions"))
            for m in properties.get("Metrics", []) if "MetricStat" in m]


def matches(metric: MetricKey, entry: MetricKey) -> bool:
    """``entry`` (a catalogue entry, values may be ``"*"``) names ``metric``."""
    if metric.namespace != entry.namespace or entry.name not in (WILDCARD, metric.name) or \
            [k for k, _ in metric.dimensions] != [k for k, _ in entry.dimensions]:
        return False
    return all(want in (WILDCARD, got) for (_, got), (_, want) in zip(metric.dimensions, entry.dimensions,
                                                                        strict=True))


def unmatched(metrics: Iterable[MetricKey], catalogue: Iterable[MetricKey]) -> list[MetricKey]:
    """The metrics (deduplicated, in order) that no catalogue entry matches."""
    entries = list(catalogue)
    exact = set(entries)
    missing: list[MetricKey] = []
    for metric in dict.fromkeys(metrics):
        if metric not in exact and not any(matches(metric, entry) for entry in entries):
            missing.append(metric)
    return missing
