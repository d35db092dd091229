"""Cost rules: one registry, one module per rule (compute, database, storage).

Importing this package registers every built-in rule (each module uses ``@COST_RULES.register``).
A configuration lists rules as ``{"rule": name, "params": {...}}``; :func:`build_rules` validates and
instantiates them (all of them, with default params, when none are configured).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import (  # noqa: F401
    ebs_gp2_to_gp3,
    ebs_oversized,
    ebs_unattached,
    ec2_commitment,
    ec2_severely_underutilized,
    ec2_underutilized,
    ec2_xlarge_rightsize,
    rds_backup_retention_note,
    rds_multi_az_production,
    rds_underutilized,
    rds_xlarge_rightsize,
)
from .base import CATEGORY, COST_RULES, CostRule, MissingPrice, Outcome, OutcomeStatus, Resource, RuleContext
from .pricing import monthly_cost

#: The rules an analysis runs when its configuration names none: all of them.
DEFAULT_RULES = ["ec2_severely_underutilized", "ec2_underutilized", "ec2_xlarge_rightsize", "ec2_commitment",
                 "rds_underutilized", "rds_xlarge_rightsize", "rds_multi_az_production", "rds_backup_retention_note",
                 "ebs_unattached", "ebs_gp2_to_gp3", "ebs_oversized"]


def build_rules(config: Sequence[Mapping[str, Any]] | None = None) -> list[CostRule]:
    """Instances of the configured rules (``[{"rule": "ec2_underutilized", "params": {...}}]``), validated;
    every default rule when ``config`` is None. PluginSpecError names a bad rule or field."""
    if config is None:
        return [COST_RULES.lookup(name)() for name in DEFAULT_RULES]
    rules = []
    for entry in config:
        name = str(entry.get("rule", ""))
        cls = COST_RULES.lookup(name)
        rules.append(cls(COST_RULES.validate(name, entry.get("params"))))
    return rules


__all__ = ["CATEGORY", "COST_RULES", "DEFAULT_RULES", "CostRule", "MissingPrice", "Outcome", "OutcomeStatus",
           "Resource", "RuleContext", "build_rules", "monthly_cost"]
