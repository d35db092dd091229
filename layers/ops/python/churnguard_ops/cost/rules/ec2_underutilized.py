"""ec2_underutilized: CPU average below 40 % -> the next size down."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams

from .base import COST_RULES
from .downsize import Ec2DownsizeParams, Ec2DownsizeRule


class Ec2UnderutilizedParams(Ec2DownsizeParams):
    cpu_below_pct: float = Field(default=40.0, gt=0, le=100, description="average CPU strictly below this qualifies")


@COST_RULES.register
class Ec2Underutilized(Ec2DownsizeRule):
    """A running instance whose CPU averages strictly below ``cpu_below_pct`` (40 %): one size down.

    39.9 % qualifies, 40.0 % does not. Saving: ``(current - next size down) $/h x 730 h``, e.g. m5.xlarge ->
    m5.large at $0.192 and $0.096: 0.096 x 730 = $70.08. Guards: fewer than 30 hourly CPU points gives no
    verdict; p95 CPU above ``p95_ceiling_pct`` vetoes; memory use x 2 above ``memory_ceiling_pct`` or
    network above ``network_ceiling_mbps`` vetoes. Effort: medium (phase 2).

    Example::

        {"rule": "ec2_underutilized", "params": {"cpu_below_pct": 40, "p95_ceiling_pct": 80,
                                                  "network_ceiling_mbps": 250}}
    """

    name = "ec2_underutilized"
    Params: ClassVar[type[PluginParams]] = Ec2UnderutilizedParams
    effort = "medium"
