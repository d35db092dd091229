"""Performance: GetMetricData calls per check and per report for 10, 100 and 1,000 watched functions, against
one GetMetricStatistics call per series, and the domain's own time per run.

The watched set is the default API and database plus N functions (4 series each) and N / 10 queues (2 each).
The use cases run as composed in production (``PerformanceMonitor`` / ``PerformanceReporter`` with
``CloudWatchMetricReader``) against a stand-in CloudWatch client that answers each query with one value per
period (24 + 24 hourly values for a report, 3 five-minute values for a check), so the calls and the domain work
are measured, not moto's scan. Printed per size: series, GetMetricData calls of a check and of a report
(expected ceil(series / 500)), the per-series alternative, and the milliseconds of each run's domain work.
No timing is asserted; exit 1 only if a call count differs from its expectation.
"""
from __future__ import annotations

import math
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.fakes import RecordingEvents
from churnguard_ops.performance.adapters import CloudWatchMetricReader
from churnguard_ops.performance.config import Targets
from churnguard_ops.performance.model import AlertState
from churnguard_ops.performance.report import PerformanceReporter
from churnguard_ops.performance.service import MonitorConfig, PerformanceMonitor

SIZES = (10, 100, 1000)
NOW = datetime(2026, 11, 30, 10, 7, tzinfo=timezone.utc)


class _Classes:
    def instance_class(self, db_instance_id: str) -> str | None:
        return "db.r6g.large"


class _States:
    def load(self) -> dict[str, AlertState]:
        return {}

    def claim(self, key: str, expected: AlertState | None, new: AlertState, *, expires_at: int) -> bool:
        return True

    def release(self, key: str, claimed: AlertState, previous: AlertState | None, *, expires_at: int) -> None:
        pass


class _Store:
    def put(self, key: str, body: str, content_type: str) -> str:
        return f"s3://bench/{key}"


class _CloudWatch:
    def __init__(self) -> None:
        self.calls = 0

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        period = kwargs["MetricDataQueries"][0]["MetricStat"]["Period"]
        steps = int((kwargs["EndTime"] - kwargs["StartTime"]).total_seconds() // period)
        stamps = [kwargs["StartTime"] + timedelta(seconds=period * i) for i in range(steps)]
        return {"MetricDataResults": [{"Id": q["Id"], "StatusCode": "Complete", "Timestamps": stamps,
                                       "Values": [float(i % 7) for i in range(steps)]}
                                      for q in kwargs["MetricDataQueries"]]}


def main() -> int:
    ok = True
    print(f"{'functions':>9} {'series':>6} {'check calls':>11} {'report calls':>12} {'per-series calls':>16} "
          f"{'check ms':>8} {'report ms':>9}")
    for n in SIZES:
        targets = Targets(functions=[f"fn-{i}" for i in range(n)], queues=[f"q-{i}" for i in range(max(1, n // 10))])
        client = _CloudWatch()
        aws.client = lambda service, region=None, _c=client: _c  # type: ignore[assignment]
        classes = _Classes()
        config = MonitorConfig(targets=targets)
        monitor = PerformanceMonitor(CloudWatchMetricReader(), classes, _States(), RecordingEvents(), None,
                                     lambda: NOW, config)
        started = time.perf_counter()
        check = monitor.check()
        check_ms = (time.perf_counter() - started) * 1000
        check_calls, client.calls = client.calls, 0
        reporter = PerformanceReporter(CloudWatchMetricReader(), classes, _Store(), None, lambda: NOW,
                                       config)
        started = time.perf_counter()
        reporter.run()
        report_ms = (time.perf_counter() - started) * 1000
        expected = math.ceil(check.series / 500)
        ok &= check_calls == client.calls == expected
        print(f"{n:>9} {check.series:>6} {check_calls:>11} {client.calls:>12} {check.series:>16} "
              f"{check_ms:>8.1f} {report_ms:>9.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
