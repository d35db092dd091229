"""ebs_gp2_to_gp3: a gp2 volume -> gp3 with the IOPS and throughput gp2 gave it, when that is cheaper."""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import EbsVolume, Evidence
from churnguard_ops.cost.ports import PriceBook

from .base import COST_RULES, CostRule, Outcome, Resource, RuleContext
from .evidence import collect
from .pricing import GP3_BASE_IOPS, GP3_BASE_THROUGHPUT, usd, volume_change, volume_cost

GP2_IOPS_PER_GB, GP2_MIN_IOPS, GP2_MAX_IOPS = 3, 100, 16000


def gp2_performance(size_gb: int) -> tuple[int, int]:
    """gp2's baseline (IOPS, MB/s) for a size: 3 IOPS/GB between 100 and 16,000; 128 MB/s up to 170 GB,
    else 250 MB/s (171-333 GB reach 250 only with burst credits; matching 250 is the safe side)."""
    iops = min(max(GP2_IOPS_PER_GB * size_gb, GP2_MIN_IOPS), GP2_MAX_IOPS)
    return iops, 128 if size_gb <= 170 else 250


@COST_RULES.register
class EbsGp2ToGp3(CostRule):
    """A gp2 volume quoted as gp3 with the same performance: same size, IOPS raised to gp2's 3 IOPS/GB
    (gp3 includes 3,000; min 100, max 16,000) and throughput to gp2's (128 MB/s up to 170 GB, else 250; gp3
    includes 125).

    Arithmetic at $0.10 (gp2) and $0.08 (gp3) per GB-month, $0.005 per IOPS-month and $0.04 per
    MB/s-month above gp3's baseline:

    - 1000 GB: gp2 3,000 IOPS -> no extra IOPS; 250 MB/s -> +125 MB/s. $100.00 -> $80.00 + $5.00 = $85.00,
      saving $15.00.
    - 2000 GB: gp2 6,000 IOPS -> +3,000 IOPS. $200.00 -> $160.00 + $15.00 + $5.00 = $180.00, saving $20.00.
    - 5 GB: gp2 128 MB/s -> +3 MB/s. $0.50 -> $0.40 + $0.12 = $0.52: not cheaper, so a note that says so.

    The change is online (ModifyVolume). Observed IOPS (read_ops + write_ops) are cited where present.
    Effort: low (phase 1, quick wins).

    Example::

        {"rule": "ebs_gp2_to_gp3", "params": {}}
    """

    name = "ebs_gp2_to_gp3"
    Params: ClassVar[type[PluginParams]] = PluginParams
    applies_to = "ebs"
    effort = "low"
    permissions: ClassVar[tuple[str, ...]] = ("ec2:DescribeVolumes", "cloudwatch:GetMetricData",
                                              "pricing:GetProducts")

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        if not isinstance(resource, EbsVolume) or resource.volume_type != "gp2":
            return None
        iops, throughput = gp2_performance(resource.size_gb)
        current = volume_cost(prices, "gp2", resource.size_gb)
        proposed = volume_cost(prices, "gp3", resource.size_gb, max(iops, GP3_BASE_IOPS),
                               max(throughput, GP3_BASE_THROUGHPUT))
        maths = volume_change(current, proposed)
        parity = (f"gp2 {resource.size_gb} GB gives {iops} IOPS and {throughput} MB/s; gp3 matches it with "
                  f"{max(0, iops - GP3_BASE_IOPS)} IOPS and {max(0, throughput - GP3_BASE_THROUGHPUT)} MB/s above "
                  f"its included {GP3_BASE_IOPS} IOPS and {GP3_BASE_THROUGHPUT} MB/s")
        parity += observed_iops(evidence)
        spec = f"gp3 with {max(iops, GP3_BASE_IOPS)} IOPS and {max(throughput, GP3_BASE_THROUGHPUT)} MB/s"
        cited = collect(evidence, ("read_ops", "write_ops"))
        if proposed.monthly < current.monthly:
            return self.recommend(resource, action=f"Change gp2 -> {spec} (online)", reason=parity,
                                  saving=current.monthly - proposed.monthly, maths=maths, evidence=cited)
        return self.recommend(resource, action=f"Keep gp2: {spec} is not cheaper ({usd(proposed.monthly)} vs "
                              f"{usd(current.monthly)})", reason=parity + "; gp3 is not cheaper", saving=0.0,
                              maths=maths, evidence=cited, note=True)


def observed_iops(evidence: Mapping[str, Evidence]) -> str:
    """``; observed p95 412 IOPS`` from read_ops + write_ops (operations per period), or nothing."""
    total, period = 0.0, 0
    for metric in ("read_ops", "write_ops"):
        ev = evidence.get(metric)
        value = (ev.p95 if ev.p95 is not None else ev.average) if ev is not None and ev.points else None
        if ev is None or value is None:
            return ""
        total, period = total + value, ev.period_seconds
    return f"; observed about {total / period:.0f} IOPS (p95 of reads + writes per {period} s)" if period else ""
