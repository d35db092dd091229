"""start_drill and start_execution: start a Step Functions execution named after the state change."""
from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from churnguard_ops.alarms.actions.base import ROUTER_ACTIONS, ActionContext, ActionResult, RouterAction
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.registry import PluginParams

STATE_MACHINE_ARN = r"^arn:aws[a-z-]*:states:[a-z]{2}(-[a-z]+)+-\d:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"


class StartDrillParams(PluginParams):
    input: dict[str, Any] = Field(default_factory=lambda: {"mode": "latest"},
                                  description="the drill request (drill.model: mode, db_instance_id, ...)")


class StartExecutionParams(PluginParams):
    state_machine_arn: str = Field(pattern=STATE_MACHINE_ARN)
    input: dict[str, Any] = Field(default_factory=dict)


def execution_name(ctx: ActionContext, what: str) -> str:
    """One name per state change: StartExecution with the same name and input returns the same execution."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"alarm-{what}-{ctx.change.event_id}")[:80]


def _start(ctx: ActionContext, arn: str, what: str, payload: dict[str, Any]) -> ActionResult:
    if not arn:
        raise OpsError(f"{what}: no state machine configured")
    execution = ctx.executions.start(arn, execution_name(ctx, what), payload)
    return ActionResult(f"started {execution.rsplit(':', 2)[-2]}/{execution.rsplit(':', 1)[-1]}",
                        data={"execution_arn": execution})


@ROUTER_ACTIONS.register
class StartDrill(RouterAction):
    """Start a restore drill now (``<prefix>-restore-drill``).

    Example::

        {"action": "start_drill", "params": {"input": {"mode": "latest"}}}
    """

    name = "start_drill"
    Params = StartDrillParams
    permissions = ("states:StartExecution",)

    def run(self, ctx: ActionContext, params: StartDrillParams) -> ActionResult:  # type: ignore[override]
        return _start(ctx, ctx.targets.drill_state_machine_arn, "drill", params.input)


@ROUTER_ACTIONS.register
class StartExecution(RouterAction):
    """Start an execution of a configured state machine with the given input.

    Example::

        {"action": "start_execution",
         "params": {"state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:cleanup",
                    "input": {"reason": "disk full"}}}
    """

    name = "start_execution"
    Params = StartExecutionParams
    permissions = ("states:StartExecution",)

    def run(self, ctx: ActionContext, params: StartExecutionParams) -> ActionResult:  # type: ignore[override]
        return _start(ctx, params.state_machine_arn, "exec", params.input)
