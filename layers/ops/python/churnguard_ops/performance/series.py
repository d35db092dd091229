"""The series to read for the configured targets, each with the GetMetricData queries it needs.

API Gateway: ``Latency`` p95/p99 (ms) and ``5XXError`` Average x 100 (the share of requests that failed, %).
ALB: ``TargetResponseTime`` p95/p99 x 1000 (seconds -> ms) and 100 x ``HTTPCode_Target_5XX_Count`` /
``RequestCount`` (per-period sums). Lambda: ``Duration`` p95, ``Errors`` and ``Throttles`` per minute,
``ConcurrentExecutions`` Maximum. SQS: ``ApproximateNumberOfMessagesVisible`` and
``ApproximateAgeOfOldestMessage`` Maximum. RDS: ``CPUUtilization`` Average, ``FreeableMemory`` Average as a
percentage used of the class's memory, ``DatabaseConnections`` Maximum.
"""
from __future__ import annotations

from collections.abc import Mapping

from churnguard_ops.performance.config import Targets
from churnguard_ops.performance.model import Combine, RawQuery, Series


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def query(self, namespace: str, name: str, dimensions: Mapping[str, str], stat: str) -> RawQuery:
        self.n += 1
        return RawQuery(f"q{self.n}", namespace, name, tuple(sorted(dimensions.items())), stat)


def build_series(targets: Targets, memory: Mapping[str, float | None]) -> tuple[list[Series], list[str]]:
    """Every series of ``targets`` and notes on what cannot be watched (a database of unknown class).

    ``memory``: bytes of memory per database id (None: the class is not in the table)."""
    ids, out, notes = _Ids(), [], []

    def add(kind: str, resource: str, *queries: RawQuery, combine: Combine = "scale", factor: float = 1.0,
            memory_bytes: float | None = None) -> None:
        out.append(Series(kind, resource, tuple(queries), combine, factor, memory_bytes))

    api = targets.api
    if api is not None and api.type == "apigateway":
        dims = {"ApiName": api.name, **({"Stage": api.stage} if api.stage else {})}
        for p in ("p95", "p99"):
            add(f"api_latency_{p}", api.name, ids.query("AWS/ApiGateway", "Latency", dims, p))
        add("api_5xx_rate", api.name, ids.query("AWS/ApiGateway", "5XXError", dims, "Average"), factor=100.0)
    elif api is not None:
        dims = {"LoadBalancer": api.name}
        for p in ("p95", "p99"):
            add(f"api_latency_{p}", api.name, ids.query("AWS/ApplicationELB", "TargetResponseTime", dims, p),
                factor=1000.0)
        add("api_5xx_rate", api.name, ids.query("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims, "Sum"),
            ids.query("AWS/ApplicationELB", "RequestCount", dims, "Sum"), combine="ratio_pct")
    for fn in targets.functions:
        dims = {"FunctionName": fn}
        add("lambda_duration_p95", fn, ids.query("AWS/Lambda", "Duration", dims, "p95"))
        add("lambda_errors", fn, ids.query("AWS/Lambda", "Errors", dims, "Sum"), combine="per_minute")
        add("lambda_throttles", fn, ids.query("AWS/Lambda", "Throttles", dims, "Sum"), combine="per_minute")
        add("lambda_concurrency", fn, ids.query("AWS/Lambda", "ConcurrentExecutions", dims, "Maximum"))
    for queue in targets.queues:
        dims = {"QueueName": queue}
        add("sqs_depth", queue, ids.query("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims, "Maximum"))
        add("sqs_age", queue, ids.query("AWS/SQS", "ApproximateAgeOfOldestMessage", dims, "Maximum"))
    for db in targets.databases:
        dims = {"DBInstanceIdentifier": db}
        add("rds_cpu", db, ids.query("AWS/RDS", "CPUUtilization", dims, "Average"))
        size = memory.get(db)
        if size:
            add("rds_memory", db, ids.query("AWS/RDS", "FreeableMemory", dims, "Average"),
                combine="memory_used_pct", memory_bytes=size)
        else:
            notes.append(f"rds_memory {db}: memory of its instance class unknown; FreeableMemory not judged")
        add("rds_connections", db, ids.query("AWS/RDS", "DatabaseConnections", dims, "Maximum"))
    return out, notes


def all_queries(series: list[Series]) -> list[RawQuery]:
    return [q for s in series for q in s.queries]
