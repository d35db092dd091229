"""ec2_xlarge_rightsize: an xlarge (or larger) instance under 60 % CPU -> the next size down."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams

from .base import COST_RULES
from .downsize import Ec2DownsizeParams, Ec2DownsizeRule


class Ec2XlargeRightsizeParams(Ec2DownsizeParams):
    cpu_below_pct: float = Field(default=60.0, gt=0, le=100, description="average CPU strictly below this qualifies")


@COST_RULES.register
class Ec2XlargeRightsize(Ec2DownsizeRule):
    """A running xlarge-or-larger instance (m5.xlarge, c5.4xlarge, ...) under ``cpu_below_pct`` (60 %) CPU.

    The seed tested ``'xlarge' in instance_type``, which matches 2xlarge and up too; so does this rule.
    59.9 % qualifies, 60.0 % does not; a large is never judged here. One size down, the shared guards apply
    (30 hourly points, p95 ceiling, memory, network). Effort: medium (phase 2).

    Example::

        {"rule": "ec2_xlarge_rightsize", "params": {"cpu_below_pct": 60}}
    """

    name = "ec2_xlarge_rightsize"
    Params: ClassVar[type[PluginParams]] = Ec2XlargeRightsizeParams
    effort = "medium"
    min_size = "xlarge"
