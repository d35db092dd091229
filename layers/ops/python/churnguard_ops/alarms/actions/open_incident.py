"""open_incident: hand the state change to the incidents function (it opens, attaches or updates)."""
from __future__ import annotations

from churnguard_ops.alarms.actions.base import ROUTER_ACTIONS, ActionContext, ActionResult, RouterAction
from churnguard_ops.alarms.incidents import (
    AlarmStateChangeAnswer,
    alarm_state_change,
    checked,
    incidents_function,
)
from churnguard_ops.core.registry import PluginParams


@ROUTER_ACTIONS.register
class OpenIncident(RouterAction):
    """Send every state change of the alarm to ``<prefix>-incidents`` (``alarm_state_change``).

    ALARM opens an incident or attaches to the open one of its group; OK and INSUFFICIENT_DATA update it.
    After the route's other actions, the router records what they did on the incident's timeline.

    Example::

        {"action": "open_incident"}
    """

    name = "open_incident"
    Params = PluginParams
    permissions = ("lambda:InvokeFunction",)
    states = ("ALARM", "OK", "INSUFFICIENT_DATA")

    def run(self, ctx: ActionContext, params: PluginParams) -> ActionResult:
        answer = AlarmStateChangeAnswer.model_validate(checked(ctx.lambdas.invoke(
            incidents_function(ctx.targets.prefix), alarm_state_change(ctx.change, ctx.meta))))
        return ActionResult(f"{answer.outcome} {answer.incident_id or '(no incident)'}",
                            skipped=answer.outcome == "ignored",
                            data={"incident_id": answer.incident_id, "outcome": answer.outcome})
