"""rds_multi_az_production: a production database above $50/month without Multi-AZ (a note: it adds cost)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import HOURS_PER_MONTH, Evidence, Maths, RdsInstance
from churnguard_ops.cost.ports import PriceBook

from .base import COST_RULES, CostRule, MissingPrice, Outcome, Resource, RuleContext
from .pricing import rds_price, usd


class RdsMultiAzProductionParams(PluginParams):
    tag_key: str = Field(default="Environment", min_length=1)
    production_values: list[str] = Field(default_factory=lambda: ["production", "prod"], min_length=1,
                                         description="tag values (any case) that mean production")
    monthly_cost_above_usd: float = Field(default=50.0, ge=0, description="Single-AZ cost strictly above this")


@COST_RULES.register
class RdsMultiAzProduction(CostRule):
    """A production RDS instance (tag ``Environment`` = production/prod) that is not Multi-AZ and costs
    strictly more than ``monthly_cost_above_usd`` ($50) a month.

    A risk, not a saving: the seed flagged it, and Multi-AZ roughly doubles the instance-hours. The note
    quotes what it adds, e.g. db.m5.large postgres at $0.178/h Single-AZ and $0.356/h Multi-AZ: "adds
    $129.94/month for availability". Its maths shows the current (Single-AZ) and proposed (Multi-AZ) prices;
    it saves nothing and never counts towards the savings. Effort: medium (phase 2, the Multi-AZ review).

    Example::

        {"rule": "rds_multi_az_production", "params": {"tag_key": "Environment",
                                                        "production_values": ["production", "prod"],
                                                        "monthly_cost_above_usd": 50}}
    """

    name = "rds_multi_az_production"
    Params: ClassVar[type[PluginParams]] = RdsMultiAzProductionParams
    applies_to = "rds"
    effort = "medium"
    permissions: ClassVar[tuple[str, ...]] = ("rds:DescribeDBInstances", "pricing:GetProducts")

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        p = self.params
        assert isinstance(p, RdsMultiAzProductionParams)
        if not isinstance(resource, RdsInstance) or resource.multi_az:
            return None
        environment = resource.tags.get(p.tag_key, "")
        if environment.lower() not in {v.lower() for v in p.production_values}:
            return None
        single = rds_price(prices, resource.instance_class, resource.engine, False)
        if not round(single.monthly(), 2) > p.monthly_cost_above_usd:  # in cents
            return None
        reason = (f"{p.tag_key}={environment}, Single-AZ, {usd(single.monthly())}/month "
                  f"(> {usd(p.monthly_cost_above_usd)}): one AZ failure stops production")
        try:
            multi = rds_price(prices, resource.instance_class, resource.engine, True)
        except MissingPrice:
            return self.recommend(resource, action="Consider Multi-AZ: it about doubles the instance-hours for "
                                  "availability", reason=reason, saving=0.0, maths=None, evidence=[], note=True)
        added = (multi.usd - single.usd) * HOURS_PER_MONTH
        maths = Maths(current=[single], proposed=[multi], formula=(
            f"({multi.usd:.4f} - {single.usd:.4f}) $/h x {HOURS_PER_MONTH} h = {usd(added)} added a month"),
            current_monthly_usd=round(single.monthly(), 2), proposed_monthly_usd=round(multi.monthly(), 2))
        return self.recommend(resource, action=f"Consider Multi-AZ: adds {usd(added)}/month for availability",
                              reason=reason, saving=0.0, maths=maths, evidence=[], note=True)
