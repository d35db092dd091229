"""rds_backup_retention_note: automated backups kept longer than 7 days (a note, not a saving)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.cost.model import Evidence, RdsInstance
from churnguard_ops.cost.ports import PriceBook

from .base import COST_RULES, CostRule, Outcome, Resource, RuleContext


class RdsBackupRetentionParams(PluginParams):
    retention_days_above: int = Field(default=7, ge=0, description="retention strictly above this gets a note")


@COST_RULES.register
class RdsBackupRetentionNote(CostRule):
    """An RDS instance keeping automated backups strictly longer than ``retention_days_above`` (7) days.

    A note, not a saving: backup storage up to the database's size is free and beyond it is billed per
    GB-month, which the price book cannot size; and compliance may need the retention. The note asks to
    confirm it. 8 days gets a note, 7 does not. Effort: low.

    Example::

        {"rule": "rds_backup_retention_note", "params": {"retention_days_above": 7}}
    """

    name = "rds_backup_retention_note"
    Params: ClassVar[type[PluginParams]] = RdsBackupRetentionParams
    applies_to = "rds"
    effort = "low"
    permissions: ClassVar[tuple[str, ...]] = ("rds:DescribeDBInstances",)

    def evaluate(self, resource: Resource, evidence: Mapping[str, Evidence], prices: PriceBook,
                 ctx: RuleContext) -> Outcome | None:
        p = self.params
        assert isinstance(p, RdsBackupRetentionParams)
        if not isinstance(resource, RdsInstance) or not resource.backup_retention_days > p.retention_days_above:
            return None
        reason = (f"automated backups kept {resource.backup_retention_days} days (> {p.retention_days_above}); "
                  "backup storage beyond the database's size is billed per GB-month")
        return self.recommend(resource, action=f"Confirm the {resource.backup_retention_days}-day backup retention "
                              f"(shorten it to {p.retention_days_above} days unless compliance needs it)",
                              reason=reason, saving=0.0, maths=None, evidence=[], note=True)
