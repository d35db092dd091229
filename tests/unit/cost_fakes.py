"""Test doubles of the cost ports (see churnguard_ops.cost.ports) and evidence builders.

``FakePriceBook`` holds us-east-1 Linux / PostgreSQL On-Demand prices as the bundled table has them
(round figures from AWS's price pages), so a test's expected saving can be written as arithmetic.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from churnguard_ops.cost.model import (
    ApiUsage,
    CostData,
    Evidence,
    Inventory,
    MetricQuery,
    Price,
    PriceSource,
)

AS_OF = date(2024, 6, 1)

EC2_HOURLY = {
    "t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832,
    "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
    "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768,
    "c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c5.4xlarge": 0.68, "c5.9xlarge": 1.53,
}
#: PostgreSQL, Single-AZ; Multi-AZ is twice that.
RDS_HOURLY = {
    "db.t3.micro": 0.018, "db.t3.small": 0.036, "db.t3.medium": 0.072,
    "db.m5.large": 0.178, "db.m5.xlarge": 0.356, "db.m5.2xlarge": 0.712,
    "db.r5.large": 0.25, "db.r5.xlarge": 0.50, "db.r5.2xlarge": 1.00,
}
EBS_GB_MONTH = {"gp2": 0.10, "gp3": 0.08, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015}
EBS_IOPS_MONTH = {"gp3": 0.005, "io1": 0.065, "io2": 0.065}
EBS_THROUGHPUT_MONTH = {"gp3": 0.04}


class FakePriceBook:
    """PriceBook over the tables above (``ec2`` adds or overrides EC2 hourly prices); ``missing`` names keys
    to answer None for (``"ec2:m5.large"``, ``"ebs_iops:gp3"``); ``calls`` records each lookup."""

    def __init__(self, source: PriceSource = "bundled_table", missing: Sequence[str] = (),
                 ec2: dict[str, float] | None = None) -> None:
        self.source: PriceSource = source
        self.missing = set(missing)
        self.ec2 = {**EC2_HOURLY, **(ec2 or {})}
        self.calls: list[str] = []

    def _price(self, key: str, table: dict[str, float], name: str, unit: Literal["hour", "GB-month", "IOPS-month",
               "MBps-month"], factor: float = 1.0, description: str = "") -> Price | None:
        self.calls.append(key)
        if key in self.missing or name not in table:
            return None
        return Price(usd=table[name] * factor, unit=unit, source=self.source, as_of=AS_OF,
                     description=description or name)

    def ec2_hourly(self, instance_type: str, platform: str = "linux") -> Price | None:
        return self._price(f"ec2:{instance_type}", self.ec2, instance_type, "hour",
                           description=f"EC2 {instance_type} {platform} On-Demand")

    def rds_hourly(self, instance_class: str, engine: str, multi_az: bool) -> Price | None:
        deployment = "Multi-AZ" if multi_az else "Single-AZ"
        return self._price(f"rds:{instance_class}:{deployment}", RDS_HOURLY, instance_class, "hour",
                           2.0 if multi_az else 1.0, f"RDS {instance_class} {engine} {deployment}")

    def ebs_gb_month(self, volume_type: str) -> Price | None:
        return self._price(f"ebs_gb:{volume_type}", EBS_GB_MONTH, volume_type, "GB-month")

    def ebs_iops_month(self, volume_type: str) -> Price | None:
        return self._price(f"ebs_iops:{volume_type}", EBS_IOPS_MONTH, volume_type, "IOPS-month")

    def ebs_throughput_month(self, volume_type: str) -> Price | None:
        return self._price(f"ebs_throughput:{volume_type}", EBS_THROUGHPUT_MONTH, volume_type, "MBps-month")


class FakeMetricSource:
    """MetricSource answering from ``series``: ``(resource_id, metric) -> Evidence``; a query without an
    entry gets ``points`` 0, as CloudWatch's empty result would."""

    def __init__(self, series: dict[tuple[str, str], Evidence] | None = None) -> None:
        self.series = series or {}
        self.requests: list[list[MetricQuery]] = []

    def evidence(self, queries: Sequence[MetricQuery], start: datetime, end: datetime, period_seconds: int,
                 usage: ApiUsage) -> dict[str, Evidence]:
        self.requests.append(list(queries))
        usage.cloudwatch_metrics += len(queries)
        usage.cloudwatch_calls += (len(queries) + 499) // 500
        window = max(1, round((end - start).total_seconds() / 86400))
        return {q.id: self.series.get((q.resource_id, q.metric)) or Evidence(
            metric=q.metric, namespace=q.namespace, name=q.name, statistic=q.statistic, points=0,
            period_seconds=period_seconds, window_days=window, unit=q.unit) for q in queries}


class FakeInventorySource:
    def __init__(self, inventory: Inventory | None = None) -> None:
        self.inventory_ = inventory or Inventory()

    def inventory(self, usage: ApiUsage) -> Inventory:
        usage.count("ec2:DescribeInstances")
        usage.count("rds:DescribeDBInstances")
        usage.count("ec2:DescribeVolumes")
        return self.inventory_


class FakeCostSource:
    """CostSource returning ``data``; ``requests`` counts the periods asked for."""

    def __init__(self, data: CostData) -> None:
        self.data = data
        self.requests: list[tuple[date, date, date]] = []

    def costs(self, period_start: date, period_end: date, daily_start: date, usage: ApiUsage, *,
              daily_end: date | None = None) -> CostData:
        self.requests.append((period_start, period_end, daily_start))
        usage.cost_explorer_requests += 3
        usage.cost_explorer_usd += 0.03
        return self.data


def ev(metric: str, average: float | None, *, p95: float | None = None, maximum: float | None = None,
       points: int = 336, statistic: str = "Average", period_seconds: int = 3600, window_days: int = 14) -> Evidence:
    """One series' evidence (336 hourly points = 14 days by default)."""
    return Evidence(metric=metric, namespace="test", name=metric, statistic=statistic, average=average, p95=p95,
                    maximum=maximum, points=points, period_seconds=period_seconds, window_days=window_days)


def cpu(average: float, p95: float | None = None, points: int = 336) -> dict[str, Evidence]:
    """``cpu`` evidence (and its p95 figure on the same series)."""
    return {"cpu": ev("cpu", average, p95=p95, points=points)}


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.cost import ports

    _prices: ports.PriceBook = FakePriceBook()
    _metrics: ports.MetricSource = FakeMetricSource()
    _inventory: ports.InventorySource = FakeInventorySource()
    _costs: ports.CostSource = FakeCostSource(CostData(period_start=AS_OF, period_end=AS_OF, by_service=[]))
