"""What the cost analysis needs from the outside; AWS adapters in :mod:`.adapters`, fakes in the tests."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from churnguard_ops.cost.model import ApiUsage, CostData, Evidence, Inventory, MetricQuery, Price


class CostSource(Protocol):
    """Cost Explorer for one period: at most three GetCostAndUsage requests plus their pages, cached per
    period (a second run in the same period makes none). Records its requests in ``usage``. The daily
    series covers ``[daily_start, daily_end)`` (``daily_end`` None: ``period_end``)."""

    def costs(self, period_start: date, period_end: date, daily_start: date, usage: ApiUsage, *,
              daily_end: date | None = None) -> CostData: ...


class InventorySource(Protocol):
    """EC2 instances, RDS instances and EBS volumes of the region, every page."""

    def inventory(self, usage: ApiUsage) -> Inventory: ...


class MetricSource(Protocol):
    """GetMetricData in batches of at most 500 queries; one Evidence per query id (points 0 if no data)."""

    def evidence(self, queries: Sequence[MetricQuery], start: datetime, end: datetime, period_seconds: int,
                 usage: ApiUsage) -> dict[str, Evidence]: ...


class PriceBook(Protocol):
    """Unit prices: the Pricing API where it answers, else the bundled table (each Price says which)."""

    def ec2_hourly(self, instance_type: str, platform: str = "linux") -> Price | None: ...
    def rds_hourly(self, instance_class: str, engine: str, multi_az: bool) -> Price | None: ...
    def ebs_gb_month(self, volume_type: str) -> Price | None: ...
    def ebs_iops_month(self, volume_type: str) -> Price | None: ...
    def ebs_throughput_month(self, volume_type: str) -> Price | None: ...
