"""The drill's state as it flows through the Step Functions execution.

Each task reads the whole state and returns its own part; Step Functions stores it under the
task's ResultPath ($.plan, $.restore, ...). Unknown keys are ignored so the state can grow.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from churnguard_ops.core.clock import IsoTime


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WaitStatus(_State):
    ready: bool
    waited_seconds: int = 0
    next_wait_seconds: int = 1
    status: str = ""
    observed_at: datetime | None = None


class RecoveryPoint(_State):
    kind: Literal["snapshot", "point_in_time"]
    snapshot_id: str | None = None
    snapshot_arn: str | None = None
    time: datetime | None = None
    encrypted: bool | None = None


class DrillPlan(_State):
    drill_id: str
    source_instance: str
    region: str
    target_region: Literal["primary", "dr"]
    recovery_point: RecoveryPoint
    temp_instance_id: str
    expires_at: datetime
    requested_at: datetime
    drill_snapshot_id: str | None = None
    poll_seconds: int
    max_wait_seconds: int
    wait: WaitStatus


class RestoreInfo(_State):
    instance_id: str
    requested_at: datetime
    wait: WaitStatus


class DrillInput(_State):
    """The execution input (schedule, console or opsctl)."""

    source_instance: str | None = None
    mode: Literal["latest", "snapshot", "fresh", "point_in_time"] = "latest"
    snapshot_id: str | None = None
    restore_time: IsoTime | None = None  # ISO text only: a number would be read as a Unix time
    target_region: Literal["primary", "dr"] = "primary"
    poll_seconds: int = Field(30, ge=1, le=3600)
    max_wait_seconds: int = Field(3600, ge=1, le=4 * 3600)
    # Becomes part of RDS identifiers: lowercase, no "--", no trailing "-".
    drill_id: str | None = Field(None, pattern=r"^[a-z0-9](?:-?[a-z0-9])*$", max_length=31)

    @model_validator(mode="after")
    def _mode_arguments(self) -> DrillInput:
        if self.mode == "snapshot" and not self.snapshot_id:
            raise ValueError("mode 'snapshot' needs snapshot_id")
        if self.mode == "point_in_time" and not self.restore_time:
            raise ValueError("mode 'point_in_time' needs restore_time")
        return self


class DrillState(DrillInput):
    plan: DrillPlan | None = None
    restore: RestoreInfo | None = None
    validation: dict[str, Any] | None = None
    performance: dict[str, Any] | None = None
    cleanup: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cleanup_error: dict[str, Any] | None = None


class PollRequest(_State):
    target: Literal["snapshot", "instance"]
    drill: DrillState
