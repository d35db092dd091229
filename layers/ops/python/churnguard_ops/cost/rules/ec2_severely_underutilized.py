"""ec2_severely_underutilized: CPU average below 20 % -> two sizes down where the peaks fit, or Spot."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams

from .base import COST_RULES
from .downsize import Ec2DownsizeParams, Ec2DownsizeRule


class Ec2SeverelyUnderutilizedParams(Ec2DownsizeParams):
    cpu_below_pct: float = Field(default=20.0, gt=0, le=100, description="average CPU strictly below this qualifies")
    steps: int = Field(default=2, ge=1, le=3, description="sizes down at most (fewer where the family or peaks stop)")


@COST_RULES.register
class Ec2SeverelyUnderutilized(Ec2DownsizeRule):
    """A running instance whose CPU averages strictly below ``cpu_below_pct`` (20 %): severely underutilised.

    Proposes ``steps`` (2) sizes down when the family has them and the p95 CPU, doubled per step, stays
    within ``p95_ceiling_pct`` (m5.2xlarge at 10 % average and 15 % p95 -> m5.large: 15 x 4 = 60 <= 80);
    else one size down. The action also suggests Spot for interruptible work. Saving: the hourly price
    difference x 730 h. The shared downsize guards apply: fewer than 30 hourly CPU points gives no verdict,
    a p95 CPU above the ceiling vetoes, memory (projected x 2 per step) and network evidence veto. Effort:
    low (phase 1, quick wins).

    Example::

        {"rule": "ec2_severely_underutilized", "params": {"cpu_below_pct": 20, "steps": 2,
                                                           "p95_ceiling_pct": 80, "memory_ceiling_pct": 80}}
    """

    name = "ec2_severely_underutilized"
    Params: ClassVar[type[PluginParams]] = Ec2SeverelyUnderutilizedParams
    effort = "low"

    def max_steps(self) -> int:
        assert isinstance(self.params, Ec2SeverelyUnderutilizedParams)
        return self.params.steps

    def action(self, size: str, target: str) -> str:
        return f"Downsize {size} -> {target} (or run it on Spot if the workload tolerates interruptions)"
