"""The drill's state as it flows through the Step Functions execution.

Each task reads the whole state and returns its own part; Step Functions stores it under the
task's ResultPath ($.plan, $.restore, ...). Unknown keys are ignored so the state can grow.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    # No drill_id: a drill's id is its execution's (ExecutionRef.drill_id), so no input can name another
    # drill's resources. An input that still carries one is ignored like any unknown key.

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
    index_proof: dict[str, Any] | None = None
    cleanup: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    cleanup_error: dict[str, Any] | None = None


def drill_id_for(execution_id: str, started_at: datetime) -> str:
    """The drill id of one Step Functions execution: its start second, then a hash of its ARN.

    Deterministic (a retried task of the same execution gets the same id, so it finds its own
    resources) and unique (an execution ARN is unique while it may be reused only 90 days after the
    execution closed, and then starts at another second). Fits RDS identifiers: lowercase, no "--".
    """
    started = started_at.astimezone(timezone.utc) if started_at.tzinfo else started_at
    return f"{started:%Y%m%dt%H%M%S}-{hashlib.sha256(execution_id.encode()).hexdigest()[:8]}"


class ExecutionRef(_State):
    """The execution a task runs in, from the Step Functions context object ($$.Execution), never
    from the execution input: the state machine sets it in the task's Parameters."""

    id: str = Field(min_length=1, max_length=2048)  # the execution ARN
    name: str = Field(min_length=1, max_length=80)
    started_at: datetime

    @property
    def drill_id(self) -> str:
        return drill_id_for(self.id, self.started_at)


class ExecutionTask(_State):
    """Payload of Plan, Cleanup and Report: {"execution": <$$.Execution fields>, "drill": <the state>}."""

    execution: ExecutionRef
    drill: DrillState


class LenientExecutionTask(_State):
    """Cleanup and Report run whatever arrives: an invalid execution ref or state becomes None / the
    drill's recorded error, so they still clean up what they can and report."""

    execution: ExecutionRef | None = None
    drill: DrillState

    @classmethod
    def parse(cls, event: Any) -> LenientExecutionTask:
        body = event if isinstance(event, dict) else {}
        try:
            execution = ExecutionRef.model_validate(body.get("execution"))
        except ValidationError:
            execution = None
        try:
            drill = DrillState.model_validate(body.get("drill"))
        except ValidationError as exc:
            drill = DrillState(error={"Error": "InvalidInput",
                                      "Cause": json.dumps({"errorMessage": f"invalid drill input: {exc}"})})
        if execution is None:
            drill = drill.model_copy(update={"error": drill.error or {
                "Error": "InvalidInput", "Cause": json.dumps({"errorMessage": "no execution in the task payload: "
                                                                         "execution.id/name/started_at"})}})
        return cls(execution=execution, drill=drill)

    def own(self) -> DrillState:
        """The state with only this execution's plan and restore: a plan or restore that came in with
        the execution input (Plan failed before writing its own) belongs to another drill."""
        drill_id = self.execution.drill_id if self.execution else None
        plan, restore = self.drill.plan, self.drill.restore
        if plan is not None and plan.drill_id != drill_id:
            plan = restore = None
        if restore is not None and (plan is None or restore.instance_id != plan.temp_instance_id):
            restore = None
        return self.drill.model_copy(update={"plan": plan, "restore": restore})


class PollRequest(_State):
    target: Literal["snapshot", "instance"]
    drill: DrillState
