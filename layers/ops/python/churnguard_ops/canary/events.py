"""What arrives at the canary handlers: alarm state changes (the abort path), release tasks, decision requests."""
from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class AlarmStateValue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str
    reason: str = ""


class AlarmStateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="alarmName")
    state: AlarmStateValue
    previous_state: AlarmStateValue | None = Field(None, alias="previousState")


class AlarmStateChange(EventBridgeModel):
    detail: AlarmStateChangeDetail
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")


class ExecutionStatusChangeDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn", min_length=1)
    state_machine_arn: str = Field(alias="stateMachineArn", min_length=1)
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class ExecutionStatusChange(EventBridgeModel):
    """A release's execution ended: the abort function frees what it may still hold."""

    detail: ExecutionStatusChangeDetail
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")


class AbortFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str = Field(min_length=1, max_length=64)
    key: str = Field(min_length=1, max_length=64)


class AbortReleaseRequest(BaseModel):
    """``{"function_name", "reason"}``: roll back the running release(s) of this function (the alarm router's
    ``abort_release`` action sends it, whichever alarm the release gates on); or ``{"flag": {"environment",
    "key"}, "reason"}``: roll that flag's release back to its stable percentage."""

    model_config = ConfigDict(extra="forbid")

    function_name: str | None = Field(None, min_length=1, max_length=140)
    flag: AbortFlag | None = Field(None, validate_default=True)
    reason: str = Field(min_length=1, max_length=4096)

    @field_validator("flag")
    @classmethod
    def _one_target(cls, flag: AbortFlag | None, info: ValidationInfo) -> AbortFlag | None:
        if (info.data.get("function_name") is None) == (flag is None):
            raise ValueError("give a function_name or a flag (exactly one)")
        return flag

    def matches(self, lock_key: str) -> bool:
        """Whether a release lock (``<function>:<alias>`` or ``flag:<environment>:<key>``) is one to abort."""
        if self.flag is not None:
            return lock_key == f"flag:{self.flag.environment}:{self.flag.key}"
        return lock_key.split(":", 1)[0] == self.function_name


class AbortRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    abort_release: AbortReleaseRequest


def abort_trigger(event: Any) -> AlarmStateChange | ExecutionStatusChange | AbortRelease:
    """What the abort function receives: an explicit abort of a function's release, a release execution that
    ended, or else an alarm state change.

    Chosen by a key first, so a malformed event is refused naming its field (a tagged union
    would report a missing tag on the event as a whole)."""
    if isinstance(event, dict) and "abort_release" in event:
        return AbortRelease.model_validate(event)
    if isinstance(event, dict) and event.get("detail-type") == "Step Functions Execution Status Change":
        return ExecutionStatusChange.model_validate(event)
    return AlarmStateChange.model_validate(event)


ReleaseTaskName = Literal["validate", "smoke", "shift", "evaluate", "approve", "resume", "promote", "rollback"]


class ReleaseTask(BaseModel):
    """What the release state machine sends a task: which step, and the release state (the request, for
    ``validate``). ``execution_id`` is the execution's own id (``$$.Execution.Id``), never the input's."""

    model_config = ConfigDict(extra="forbid")

    task: ReleaseTaskName
    state: dict[str, Any]
    execution_id: str | None = Field(None, min_length=1)
    approved_by: str | None = Field(None, max_length=256)
    reason: str | None = Field(None, max_length=4096)

    def payload(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.task == "validate" and self.execution_id:
            extra["execution_id"] = self.execution_id  # the lock and the release id come from the execution
        if self.approved_by is not None:
            extra["approved_by"] = self.approved_by
        if self.reason is not None:
            extra["reason"] = self.reason
        return {**self.state, **extra}


class DecisionRequest(BaseModel):
    """A release waits for a human: ``approval`` before 100 %, or ``hold`` after NO_DATA / a provider error.
    ``token`` is the Step Functions task token the answer (``opsctl canary approve|reject``) sends back."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["approval", "hold"]
    token: str = Field(min_length=1, max_length=1024)
    execution_id: str = Field(min_length=1)
    release_id: str = Field(min_length=1)
    #: The fields of an alias release (before ``target`` existed; still accepted).
    function_name: str | None = Field(None, min_length=1)
    alias: str | None = Field(None, min_length=1)
    new_version: str | None = Field(None, min_length=1)
    weight: int = Field(ge=0, le=100)
    timeout_seconds: int = Field(ge=1)
    reason: str | None = None
    #: What is released (the release state's ``target``: {"kind", "name", "stable", "new", ...}). Last, so
    #: its check sees the alias fields.
    target: dict[str, Any] | None = Field(None, validate_default=True)

    @field_validator("target")
    @classmethod
    def _named(cls, target: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        if not target and not all(info.data.get(k) for k in ("function_name", "alias", "new_version")):
            raise ValueError("name what is released (or give function_name, alias and new_version)")
        return target

    def subject(self) -> str:
        """``churnguard-api:live version 8`` / ``flag new_dashboard_ui in production at 100 %``."""
        if self.target:
            return f"{self.target.get('name', '?')} {self.target.get('new', '')}".strip()
        return f"{self.function_name}:{self.alias} version {self.new_version}"
