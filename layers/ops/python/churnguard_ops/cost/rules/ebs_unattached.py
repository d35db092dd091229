"""ebs_unattached: a volume attached to nothing -> snapshot it, then delete it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import EbsVolume, Evidence, Maths
from churnguard_ops.cost.ports import PriceBook

from .base import COST_RULES, CostRule, Outcome, Resource, RuleContext
from .pricing import usd, volume_monthly


class EbsUnattachedParams(PluginParams):
    snapshot_first: bool = Field(default=True, description="advise a snapshot before the delete")


@COST_RULES.register
class EbsUnattached(CostRule):
    """A volume in state ``available`` with no attachment: it is billed and used by nothing.

    Saving: the whole volume, GB-month plus any provisioned IOPS and throughput, e.g. 500 GB gp2 at
    $0.10/GB-month = $50.00. A snapshot kept instead bills only the blocks written, at the snapshot price
    (not counted here). Needs no metrics, so no data-point minimum. Effort: low (phase 1, quick wins).

    Example::

        {"rule": "ebs_unattached", "params": {"snapshot_first": true}}
    """

    name = "ebs_unattached"
    Params: ClassVar[type[PluginParams]] = EbsUnattachedParams
    applies_to = "ebs"
    effort = "low"
    permissions: ClassVar[tuple[str, ...]] = ("ec2:DescribeVolumes", "pricing:GetProducts")

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        p = self.params
        assert isinstance(p, EbsUnattachedParams)
        if not isinstance(resource, EbsVolume) or resource.state != "available" or resource.attached_to:
            return None
        cost = volume_monthly(prices, resource)
        maths = Maths(current=cost.prices, proposed=[], formula=f"{cost.formula()} saved in full",
                      current_monthly_usd=round(cost.monthly, 2), proposed_monthly_usd=0.0)
        action = ("Snapshot, then delete the unattached volume" if p.snapshot_first
                  else "Delete the unattached volume")
        reason = f"state available, attached to nothing: {usd(cost.monthly)}/month for no use"
        return self.recommend(resource, action=action, reason=reason, saving=cost.monthly, maths=maths, evidence=[])
