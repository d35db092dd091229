"""abort_release: roll back the canary release of the alarm's function, through the canary's abort function."""
from __future__ import annotations

from pydantic import Field

from churnguard_ops.alarms.actions.base import ROUTER_ACTIONS, ActionContext, ActionResult, RouterAction
from churnguard_ops.core.errors import NotFound, OpsError
from churnguard_ops.core.registry import PluginParams

#: The canary capability's abort function (``<prefix>-canary-abort``); it takes ``{"abort_release": ...}``.
CANARY_ABORT_SUFFIX = "canary-abort"


class AbortReleaseParams(PluginParams):
    function_name: str | None = Field(
        None, min_length=1, max_length=140,
        description="the released function; default: the FunctionName dimension of the alarm's metric")


@ROUTER_ACTIONS.register
class AbortRelease(RouterAction):
    """Stop the canary release of the affected function (its alias goes back to the stable version).

    Invokes ``<prefix>-canary-abort`` with ``{"abort_release": {"function_name", "reason"}}``; where the
    canary capability is not deployed the action is skipped ("canary not deployed").

    Example::

        {"action": "abort_release", "params": {"function_name": "churnguard-api"}}
    """

    name = "abort_release"
    Params = AbortReleaseParams
    permissions = ("lambda:InvokeFunction",)

    def run(self, ctx: ActionContext, params: AbortReleaseParams) -> ActionResult:  # type: ignore[override]
        function_name = params.function_name or ctx.change.dimensions.get("FunctionName")
        if not function_name:
            raise OpsError(f"abort_release: alarm {ctx.change.name} has no FunctionName dimension; "
                           "set params.function_name on its route")
        reason = f"alarm {ctx.change.name} went to {ctx.change.state}: {ctx.change.reason}".rstrip(": ")
        try:
            answer = ctx.lambdas.invoke(f"{ctx.targets.prefix}-{CANARY_ABORT_SUFFIX}",
                                        {"abort_release": {"function_name": function_name, "reason": reason}})
        except NotFound:
            return ActionResult("skipped: canary not deployed", skipped=True)
        aborted = [a.get("release_id", "?") for a in answer.get("aborted") or []]
        detail = f"rolled back {', '.join(aborted)}" if aborted else f"no release of {function_name} running"
        return ActionResult(detail, data={"function_name": function_name, "aborted": aborted})
