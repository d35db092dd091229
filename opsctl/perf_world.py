"""The ChurnGuard metrics a performance report and check run against on the embedded default.

``seed_perf_world(aws, targets)`` puts two days of CloudWatch data for the configured targets (the API, the
functions, the queue, the database), with figures a reader can redo by hand:

- **hourly samples** at half past each hour for the 48 hours before ``anchor`` (an hour boundary at least ten
  minutes ago): the report over the 24 hours before ``anchor`` sees each UTC hour once, and so does the
  previous window; "peak" hours are 14:00-19:59 UTC (6 of 24);
- **API latency** (``AWS/ApiGateway`` ``Latency``, ``ApiName``): 20 samples an hour, so an hour's nearest-rank
  p95 is its 19th smallest sample and its p99 the largest. This day: off-peak 18 x 300, 700, 1500 ms
  (p95 700, p99 1500); peak 18 x 400, 900, 2600 ms (p95 900, p99 2600 = 1.3 x 2,000: **high**). The day
  before: p99 1400 and 1600, p95 600 and 800. So this day's hourly p99s average (18 x 1500 + 6 x 2600) / 24 =
  1775 ms against 1450 the day before (+325 ms, +22.4 %); 6 of 24 hours breach;
- **RDS** ``churnguard-prod`` (created as db.r6g.large, 16 GiB, when the account has no such instance):
  CPU 45 % off-peak and 70 % at peak (average 51.25 %; the day before 40/60, 45 %), 4 GiB freeable (75 %
  used; the day before 5 GiB, 68.75 %), 80/120 connections;
- Lambda, SQS and the 5xx rate comfortably under their thresholds;
- **recent samples** in the last complete 5-minute period for every series (the check's window, after
  ``anchor``, so the report does not see them): the API's latency at peak shape (p99 2600 ms: high), the rest
  as off-peak (error counts a twelfth of the hourly ones: the same rate per minute).

About 1,700 datapoints: moto's GetMetricData scans every stored point once per query and period, so the
report's 16 queries over 48 hourly periods stay within seconds.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from churnguard_ops.performance.config import Targets

HISTORY_HOURS = 48
PEAK_HOURS = tuple(range(14, 20))
GIB = 2 ** 30
DB_CLASS = "db.r6g.large"  # as opsctl.world seeds churnguard-prod
PUT_METRIC_BATCH = 1000

#: (off-peak, peak) per window ("current": the 24 h before the anchor, "previous": the 24 h before those).
LATENCY = {  # (18 samples at, 1 at, 1 at) ms
    "current": ((300.0, 700.0, 1500.0), (400.0, 900.0, 2600.0)),
    "previous": ((300.0, 600.0, 1400.0), (400.0, 800.0, 1600.0)),
}
RDS_CPU = {"current": (45.0, 70.0), "previous": (40.0, 60.0)}
RDS_FREE_GIB = {"current": (4.0, 4.0), "previous": (5.0, 5.0)}
RDS_CONNECTIONS = {"current": (80.0, 120.0), "previous": (80.0, 120.0)}
#: Per function: Duration (ms), Errors per hour, Throttles per hour, ConcurrentExecutions.
LAMBDA = {"api": (120.0, 6.0, 0.0, 40.0), "worker": (850.0, 3.0, 0.0, 12.0)}
SQS = {"ApproximateNumberOfMessagesVisible": (20.0, 60.0), "ApproximateAgeOfOldestMessage": (30.0, 90.0)}
API_5XX = {"current": 0.002, "previous": 0.001}  # share of requests: 0.2 % and 0.1 %


@dataclass
class PerfWorld:
    """What was seeded: the report window's end, when the recent (check) samples are, and how many points."""

    now: datetime
    anchor: datetime
    recent: datetime
    created_databases: list[str] = field(default_factory=list)
    datapoints: int = 0
    put_metric_calls: int = 0


def anchor_for(now: datetime) -> datetime:
    """The hour boundary at least ten minutes before ``now``: the recent samples (within 7.5 minutes of
    ``now``) then always fall after it."""
    moment = now - timedelta(minutes=10)
    return moment.replace(minute=0, second=0, microsecond=0)


def _dims(**dims: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in sorted(dims.items())]


def _datum(name: str, dims: list[dict[str, str]], at: datetime, value: float, unit: str) -> dict[str, Any]:
    return {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": value, "Unit": unit}


def _hours(world: PerfWorld) -> Iterable[tuple[datetime, str, int]]:
    """(moment, window, 0 off-peak / 1 peak) for each seeded hour."""
    for k in range(HISTORY_HOURS):
        moment = world.anchor - timedelta(hours=k + 0.5)
        yield moment, "current" if k < 24 else "previous", int(moment.hour in PEAK_HOURS)


def _data(world: PerfWorld, targets: Targets) -> Iterable[tuple[str, dict[str, Any]]]:
    samples = [(m, w, p) for m, w, p in _hours(world)] + [(world.recent, "recent", 0)]
    for moment, window, peak in samples:
        shape = "current" if window == "recent" else window
        latency_peak = 1 if window == "recent" else peak  # the check sees the API at its peak shape
        if targets.api is not None and targets.api.type == "apigateway":
            dims = _dims(ApiName=targets.api.name, **({"Stage": targets.api.stage} if targets.api.stage else {}))
            base, p95, p99 = LATENCY[shape][latency_peak]
            yield "AWS/ApiGateway", {"MetricName": "Latency", "Dimensions": dims, "Timestamp": moment,
                                     "Values": [base, p95, p99], "Counts": [18, 1, 1], "Unit": "Milliseconds"}
            yield "AWS/ApiGateway", _datum("5XXError", dims, moment, API_5XX[shape], "Count")
        for index, fn in enumerate(targets.functions):
            duration, errors, throttles, concurrency = LAMBDA["api" if index == 0 else "worker"]
            if window == "recent":  # counts per hour -> per 5-minute period: the same rate per minute
                errors, throttles = errors / 12, throttles / 12
            dims = _dims(FunctionName=fn)
            yield "AWS/Lambda", _datum("Duration", dims, moment, duration, "Milliseconds")
            yield "AWS/Lambda", _datum("Errors", dims, moment, errors, "Count")
            yield "AWS/Lambda", _datum("Throttles", dims, moment, throttles, "Count")
            yield "AWS/Lambda", _datum("ConcurrentExecutions", dims, moment, concurrency, "Count")
        for queue in targets.queues:
            for name, values in SQS.items():
                yield "AWS/SQS", _datum(name, _dims(QueueName=queue), moment, values[peak],
                                        "Seconds" if "Age" in name else "Count")
        for db in targets.databases:
            dims = _dims(DBInstanceIdentifier=db)
            yield "AWS/RDS", _datum("CPUUtilization", dims, moment, RDS_CPU[shape][peak], "Percent")
            yield "AWS/RDS", _datum("FreeableMemory", dims, moment, RDS_FREE_GIB[shape][peak] * GIB, "Bytes")
            yield "AWS/RDS", _datum("DatabaseConnections", dims, moment, RDS_CONNECTIONS[shape][peak], "Count")


def _ensure_databases(rds: Any, targets: Targets, world: PerfWorld) -> None:
    existing = {d["DBInstanceIdentifier"] for page in rds.get_paginator("describe_db_instances").paginate()
                for d in page["DBInstances"]}
    for db in targets.databases:
        if db not in existing:
            rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass=DB_CLASS, Engine="postgres",
                                   EngineVersion="15.8", AllocatedStorage=100, MasterUsername="churnguard",
                                   MasterUserPassword="local-only-pg-password", StorageEncrypted=True)
            world.created_databases.append(db)


def seed_perf_world(aws: Any, targets: Targets, *, now: datetime | None = None,
                    region: str | None = None) -> PerfWorld:
    """Seed the running embedded AWS (``aws``: an ``EmbeddedAws``) for ``targets`` (the context's)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    five = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    world = PerfWorld(now=now, anchor=anchor_for(now), recent=five - timedelta(seconds=150))
    _ensure_databases(aws.client("rds", region), targets, world)
    cloudwatch = aws.client("cloudwatch", region)
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for namespace, datum in _data(world, targets):
        by_namespace.setdefault(namespace, []).append(datum)
    for namespace, datums in sorted(by_namespace.items()):
        for first in range(0, len(datums), PUT_METRIC_BATCH):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[first:first + PUT_METRIC_BATCH])
            world.put_metric_calls += 1
        world.datapoints += sum(sum(d.get("Counts", [1])) for d in datums)
    return world
