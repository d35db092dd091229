"""The scheduled tick: an EventBridge Scheduled Event whose ``detail`` names the policy."""
from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, Field

from churnguard_ops.backup.policy import PolicyName


class BackupTickDetail(BaseModel):
    policy: PolicyName
    db_instance_ids: list[str] | None = Field(
        None, description="Manual runs may narrow the targets; schedules leave it empty")


class BackupTick(EventBridgeModel):
    detail: BackupTickDetail
