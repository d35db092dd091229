"""The backup tick: an EventBridge event whose ``detail`` names the policy.

Strict where a wrong type would change the meaning: ``time`` must be ISO 8601 text (a number would be
read as a Unix time and date the backup 1970), and unknown ``detail`` keys are refused (a typo such as
``db_instance_id`` would otherwise silently back up every instance).
"""
from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, model_validator

from churnguard_ops.backup.policy import PolicyName
from churnguard_ops.core.clock import IsoTime


class BackupTickDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: PolicyName
    db_instance_ids: list[StrictStr] | None = Field(
        None, description="Manual runs may narrow the targets; schedules leave it empty")
    on_demand: StrictBool = Field(
        False, description="A manual recovery point now (database policy): its own id, tags and retention")
    retention_days: int | None = Field(
        None, ge=1, le=3650, strict=True, description="On-demand only: keep it this long (default: the policy's)")

    @model_validator(mode="after")
    def _on_demand_fields(self) -> BackupTickDetail:
        if self.on_demand and self.policy != "database":
            raise ValueError("on_demand: only the database policy takes on-demand snapshots")
        if self.retention_days is not None and not self.on_demand:
            raise ValueError("retention_days: only an on-demand run sets its own retention")
        return self


class BackupTick(EventBridgeModel):
    time: IsoTime  # narrower than EventBridgeModel's lax datetime: ISO text only
    detail: BackupTickDetail


class ProbeTickDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a schedule sends {}; anything else was meant for another function


class ProbeTick(EventBridgeModel):
    """The recoverability probe's schedule: it measures now, so the event only has to be a schedule's."""

    time: IsoTime
    detail: ProbeTickDetail
