"""rds_underutilized: an RDS instance under 30 % CPU -> the next class down."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams

from .base import COST_RULES
from .downsize import RdsDownsizeParams, RdsDownsizeRule


class RdsUnderutilizedParams(RdsDownsizeParams):
    cpu_below_pct: float = Field(default=30.0, gt=0, le=100, description="average CPU strictly below this qualifies")


@COST_RULES.register
class RdsUnderutilized(RdsDownsizeRule):
    """An RDS instance whose CPU averages strictly below ``cpu_below_pct`` (30 %): the next class down.

    ``db.m5.xlarge`` -> ``db.m5.large`` at the same engine and deployment (Single- or Multi-AZ price).
    Guards: fewer than 30 hourly CPU points gives no verdict; p95 CPU above ``p95_ceiling_pct`` vetoes;
    FreeableMemory averaging below ``min_freeable_memory_mb`` vetoes (the smaller class has half the
    memory). Connections are cited as evidence. Effort: medium (phase 2).

    Example::

        {"rule": "rds_underutilized", "params": {"cpu_below_pct": 30, "min_freeable_memory_mb": 1024}}
    """

    name = "rds_underutilized"
    Params: ClassVar[type[PluginParams]] = RdsUnderutilizedParams
    effort = "medium"
