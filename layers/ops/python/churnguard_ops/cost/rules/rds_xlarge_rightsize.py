"""rds_xlarge_rightsize: an xlarge (or larger) RDS class under 50 % CPU -> the next class down."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams

from .base import COST_RULES
from .downsize import RdsDownsizeParams, RdsDownsizeRule


class RdsXlargeRightsizeParams(RdsDownsizeParams):
    cpu_below_pct: float = Field(default=50.0, gt=0, le=100, description="average CPU strictly below this qualifies")


@COST_RULES.register
class RdsXlargeRightsize(RdsDownsizeRule):
    """An RDS class of xlarge or larger (db.r5.xlarge, db.m5.4xlarge) under ``cpu_below_pct`` (50 %) CPU.

    One class down; the RDS downsize guards apply (30 hourly points, p95 ceiling, FreeableMemory). 49.9 %
    qualifies, 50.0 % does not. Effort: medium (phase 2).

    Example::

        {"rule": "rds_xlarge_rightsize", "params": {"cpu_below_pct": 50, "p95_ceiling_pct": 80}}
    """

    name = "rds_xlarge_rightsize"
    Params: ClassVar[type[PluginParams]] = RdsXlargeRightsizeParams
    effort = "medium"
    min_size = "xlarge"
