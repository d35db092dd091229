"""ec2_commitment: a steady instance above $100/month -> a Savings Plan or Reserved Instance."""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import HOURS_PER_MONTH, Ec2Instance, Evidence, Maths, Price
from churnguard_ops.cost.ports import PriceBook

from .base import COST_RULES, CostRule, Outcome, Resource, RuleContext
from .evidence import collect
from .pricing import ec2_price, usd


class Ec2CommitmentParams(PluginParams):
    monthly_cost_above_usd: float = Field(default=100.0, ge=0,
                                          description="On-Demand cost strictly above this qualifies")
    discount_pct: float = Field(default=28.0, gt=0, lt=100, description=(
        "discount of the commitment over On-Demand (assumed: 1-year, no-upfront Compute Savings Plan)"))
    commitment: str = Field(default="a 1-year no-upfront Compute Savings Plan (or a Reserved Instance)",
                            min_length=1)


@COST_RULES.register
class Ec2Commitment(CostRule):
    """A running instance costing strictly more than ``monthly_cost_above_usd`` ($100) a month On-Demand.

    Proposes a commitment at ``discount_pct`` (28 %) below On-Demand. The 28 % is an assumption, not a
    quote: it is about what a 1-year, no-upfront Compute Savings Plan takes off current-generation Linux
    On-Demand prices in us-east-1 (AWS Savings Plans pricing pages); replace it with the rate Cost
    Explorer's Savings Plans recommendations give your account. Saving: ``hourly x 730 h x discount``, e.g.
    m5.xlarge at $0.192/h: 0.192 x 730 x 28 % = $39.24. A commitment is for a steady instance, so it needs
    the CPU series to have ``min_points`` (30) hourly points, like every other verdict. It competes with
    the downsizes for the resource's single best action (no double counting). Effort: high (phase 3).

    Example::

        {"rule": "ec2_commitment", "params": {"monthly_cost_above_usd": 100, "discount_pct": 28}}
    """

    name = "ec2_commitment"
    Params: ClassVar[type[PluginParams]] = Ec2CommitmentParams
    applies_to = "ec2"
    effort = "high"
    permissions: ClassVar[tuple[str, ...]] = ("ec2:DescribeInstances", "cloudwatch:GetMetricData",
                                              "pricing:GetProducts")

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        p = self.params
        assert isinstance(p, Ec2CommitmentParams)
        if not isinstance(resource, Ec2Instance) or resource.state != "running":
            return None
        cpu = evidence.get("cpu")
        if cpu is None or cpu.points < ctx.min_points:
            points = cpu.points if cpu is not None else 0
            return self.verdict("insufficient_data", f"insufficient data: {points} CPU points (fewer than "
                                                     f"{ctx.min_points}), too little history for a commitment")
        current = ec2_price(prices, resource.instance_type, resource.platform)
        monthly = round(current.monthly(), 2)  # compared in cents: $100.00 is not above $100
        if not monthly > p.monthly_cost_above_usd:
            return None
        rate = p.discount_pct / 100
        committed = Price(usd=current.usd * (1 - rate), unit="hour", source=current.source, as_of=current.as_of,
                          description=f"{resource.instance_type} under {p.commitment} at {p.discount_pct:g} % off "
                                      f"On-Demand (assumed discount)")
        saving = current.usd * HOURS_PER_MONTH * rate
        maths = Maths(current=[current], proposed=[committed],
                      formula=f"{current.usd:.4f} $/h x {HOURS_PER_MONTH} h x {p.discount_pct:g} % = {usd(saving)}",
                      current_monthly_usd=round(monthly, 2), proposed_monthly_usd=round(committed.monthly(), 2))
        reason = (f"{resource.instance_type} costs {usd(monthly)}/month On-Demand (> {usd(p.monthly_cost_above_usd)})"
                  f" and ran through the window ({cpu.points} CPU points)")
        return self.recommend(resource, action=f"Cover it with {p.commitment}", reason=reason, saving=saving,
                              maths=maths, evidence=collect(evidence, ("cpu",)))
