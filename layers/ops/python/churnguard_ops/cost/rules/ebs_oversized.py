"""ebs_oversized: a volume whose filesystem stays mostly empty -> a smaller volume."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import EbsVolume, Evidence
from churnguard_ops.cost.ports import PriceBook

from .base import COST_RULES, CostRule, Outcome, Resource, RuleContext
from .evidence import cite, collect
from .pricing import volume_change, volume_cost, volume_monthly


class EbsOversizedParams(PluginParams):
    min_size_gb: int = Field(default=100, ge=1, description="smaller volumes are not judged")
    used_below_pct: float = Field(default=30.0, gt=0, le=100, description="highest disk use strictly below this")
    target_fill_pct: float = Field(default=70.0, gt=0, le=100, description="the new size holds the peak use at this")


@COST_RULES.register
class EbsOversized(CostRule):
    """An attached volume of at least ``min_size_gb`` (100 GB) whose filesystem's highest use over the window
    stays strictly below ``used_below_pct`` (30 %).

    Evidence: the CloudWatch agent's ``disk_used_percent`` for the volume's mount (``disk_used``; the query
    is built when the volume carries the mount-path tag, see :mod:`churnguard_ops.cost.queries`). EBS
    itself cannot tell how full a filesystem is (read/write ops say nothing about it), so without that
    series, or with fewer than 30 points, there is no verdict and the report says so. New size: ``ceil(size x
    max used / target_fill_pct)``, e.g. 1000 GB at 20 % -> 200 GB used / 0.70 = 286 GB; gp3 at $0.08:
    (1000 - 286) x 0.08 = $57.12. Provisioned IOPS and throughput are kept. EBS cannot shrink a volume in
    place: the action is a copy to a new volume. Effort: medium (phase 2).

    Example::

        {"rule": "ebs_oversized", "params": {"min_size_gb": 100, "used_below_pct": 30, "target_fill_pct": 70}}
    """

    name = "ebs_oversized"
    Params: ClassVar[type[PluginParams]] = EbsOversizedParams
    applies_to = "ebs"
    effort = "medium"
    permissions: ClassVar[tuple[str, ...]] = ("ec2:DescribeVolumes", "cloudwatch:GetMetricData",
                                              "pricing:GetProducts")

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        p = self.params
        assert isinstance(p, EbsOversizedParams)
        if not isinstance(resource, EbsVolume) or not resource.attached_to or resource.size_gb < p.min_size_gb:
            return None
        disk = evidence.get("disk_used")
        if disk is None or disk.points < ctx.min_points:
            points = disk.points if disk is not None else 0
            return self.verdict("insufficient_data", f"insufficient data: {points} disk_used_percent points "
                                                     f"(fewer than {ctx.min_points}), no verdict on its size")
        used = next((v for v in (disk.maximum, disk.p95, disk.average) if v is not None), None)
        if used is None or not used < p.used_below_pct:
            return None
        new_size = max(1, math.ceil(resource.size_gb * used / p.target_fill_pct))
        if new_size >= resource.size_gb:
            return None
        current = volume_monthly(prices, resource)
        proposed = volume_cost(prices, resource.volume_type, new_size, resource.iops, resource.throughput_mbps)
        reason = (f"disk use {cite(disk)}: at most {used:.1f} % of {resource.size_gb} GB; {new_size} GB holds it at "
                  f"{p.target_fill_pct:g} %")
        return self.recommend(resource, action=f"Move the data to a {new_size} GB {resource.volume_type} volume "
                              f"(EBS cannot shrink in place)", reason=reason,
                              saving=current.monthly - proposed.monthly, maths=volume_change(current, proposed),
                              evidence=collect(evidence, ("disk_used", "read_ops", "write_ops")))
