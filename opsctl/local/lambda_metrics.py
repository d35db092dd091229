"""AWS/Lambda metrics for local invocations, and the EMF metrics the handlers print.

Lambda publishes, per invocation, in namespace ``AWS/Lambda``:

- ``Invocations`` (Count, 1), ``Errors`` (Count, 1 when the function errored, else 0),
  ``Duration`` (Milliseconds, measured here around the handler), ``Throttles`` (Count, 1 when the
  request was refused instead of run; then no Invocations/Errors/Duration);
- under the dimension sets {FunctionName}; {FunctionName, Resource} where Resource is
  ``name:alias`` or ``name:version`` when the caller gave a qualifier; and
  {FunctionName, Resource, ExecutedVersion} when the qualifier was an alias (which version ran).

They are sent with PutMetricData to the embedded CloudWatch, timestamped when the invocation
started, so GetMetricData/GetMetricStatistics (and the percentile extension) answer from them.
The handler's EMF lines go the same way (``opsctl.local.emf``).

Publishing is synchronous, before Invoke answers: a caller that reads the metrics right after
its invocation sees them. A failure to publish is logged, never turned into an Invoke error.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from .emf import metric_data as emf_metric_data
from .lambda_runtime import InvocationResult
from .lambda_versions import ResolvedInvocation

__all__ = ["LAMBDA_NAMESPACE", "LambdaMetrics", "lambda_metric_data"]

LAMBDA_NAMESPACE = "AWS/Lambda"
_log = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], Any]


def lambda_metric_data(
    function_name: str, resolved: ResolvedInvocation | None, result: InvocationResult
) -> list[dict[str, Any]]:
    """The AWS/Lambda MetricData for one invocation (or one throttled request)."""
    dimension_sets = [[{"Name": "FunctionName", "Value": function_name}]]
    if resolved is not None and resolved.resource is not None:
        resource = [*dimension_sets[0], {"Name": "Resource", "Value": resolved.resource}]
        dimension_sets.append(resource)
        if resolved.alias is not None:
            dimension_sets.append([*resource, {"Name": "ExecutedVersion", "Value": result.executed_version}])
    timestamp = dt.datetime.fromtimestamp(result.started_at, tz=dt.timezone.utc) if result.started_at \
        else dt.datetime.now(dt.timezone.utc)
    if result.throttled:
        values = [("Throttles", 1.0, "Count")]
    else:
        values = [
            ("Invocations", 1.0, "Count"),
            ("Errors", 1.0 if result.function_error else 0.0, "Count"),
            ("Duration", round(result.duration_ms, 3), "Milliseconds"),
            ("Throttles", 0.0, "Count"),
        ]
    return [
        {"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit, "Timestamp": timestamp}
        for dims in dimension_sets
        for name, value, unit in values
    ]


class LambdaMetrics:
    """Sends each invocation's AWS/Lambda metrics and EMF metrics to the embedded CloudWatch."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients
        self.enabled = True

    def publish(
        self, region: str, function_name: str, resolved: ResolvedInvocation | None, result: InvocationResult
    ) -> None:
        if not self.enabled:
            return
        batches = {LAMBDA_NAMESPACE: lambda_metric_data(function_name, resolved, result)}
        for namespace, data in emf_metric_data(result.emf_records).items():
            batches.setdefault(namespace, []).extend(data)
        cloudwatch = self._clients("cloudwatch", region)
        for namespace, data in batches.items():
            for start in range(0, len(data), 1000):  # PutMetricData: at most 1000 datums per call
                try:
                    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start:start + 1000])
                except Exception:  # noqa: BLE001 - metrics are best effort, never an Invoke failure
                    _log.exception("could not publish %s metrics for %s", namespace, function_name)
