"""The metric kinds the performance capability watches: what each reads from CloudWatch, in which unit it
is judged, and its default threshold.

Defaults from the seed profiler: CPU 80 %, memory 85 %, response time 2,000 ms (the API's p99, the figure the
seed reported for response time), queue depth 100. The seed had no threshold for the other kinds; ours are
marked "new" below and can all be overridden per kind (``thresholds`` in the ``performance`` context).

Counts (Lambda errors and throttles) are judged per minute (the per-period sum divided by the period in
minutes), so one threshold means the same for the 5-minute check and an hourly report.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    unit: str  # of the judged value
    threshold: float  # default
    label: str  # what a human reads
    seed: bool  # the seed profiler had this threshold


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("api_latency_p95", "ms", 1000.0, "API latency p95", False),
    Kind("api_latency_p99", "ms", 2000.0, "API latency p99", True),
    Kind("api_5xx_rate", "%", 1.0, "API 5xx rate", False),
    Kind("lambda_duration_p95", "ms", 3000.0, "Lambda duration p95", False),
    Kind("lambda_errors", "/min", 1.0, "Lambda errors per minute", False),
    Kind("lambda_throttles", "/min", 1.0, "Lambda throttles per minute", False),
    Kind("lambda_concurrency", "count", 800.0, "Lambda concurrent executions", False),
    Kind("sqs_depth", "messages", 100.0, "SQS messages visible", True),
    Kind("sqs_age", "s", 300.0, "SQS age of oldest message", False),
    Kind("rds_cpu", "%", 80.0, "RDS CPU", True),
    Kind("rds_memory", "%", 85.0, "RDS memory used", True),
    Kind("rds_connections", "count", 200.0, "RDS connections", False),
)}


def default_thresholds() -> dict[str, float]:
    return {name: kind.threshold for name, kind in KINDS.items()}


def check_kinds(names: object) -> None:
    """Refuse unknown kind names (a typo in configuration), naming the known ones."""
    unknown = sorted(set(names) - set(KINDS)) if isinstance(names, (dict, list, set, tuple)) else []
    if unknown:
        raise ValueError(f"unknown metric kind(s) {unknown}; known: {sorted(KINDS)}")
