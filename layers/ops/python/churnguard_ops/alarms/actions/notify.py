"""notify: the alarm on its severity's SNS topic, with team, runbook and reason."""
from __future__ import annotations

from pydantic import Field

from churnguard_ops.alarms.actions.base import ROUTER_ACTIONS, ActionContext, ActionResult, RouterAction
from churnguard_ops.alarms.model import Severity
from churnguard_ops.core.registry import PluginParams


class NotifyParams(PluginParams):
    severity: Severity | None = Field(None, description="page this severity's topic instead of the alarm's")


@ROUTER_ACTIONS.register
class Notify(RouterAction):
    """Publish the state change to ``<prefix>-alerts-<severity>`` (severity, team, runbook URL, reason).

    Example::

        {"action": "notify", "params": {}, "states": ["ALARM", "OK"]}
    """

    name = "notify"
    Params = NotifyParams
    permissions = ("sns:Publish",)

    def run(self, ctx: ActionContext, params: NotifyParams) -> ActionResult:  # type: ignore[override]
        severity = params.severity or ctx.meta.severity
        topic = ctx.targets.topic_arns[severity]
        ctx.topics.publish(topic, *message(ctx, severity))
        return ActionResult(f"published to {topic.rsplit(':', 1)[-1]}", data={"topic_arn": topic})


def message(ctx: ActionContext, severity: str) -> tuple[str, str]:
    change, meta = ctx.change, ctx.meta
    subject = f"[{severity.upper()}] {change.name} is {change.state}"
    lines = [
        f"Alarm:    {change.name}",
        f"State:    {change.previous_state or '?'} -> {change.state} at {change.time}",
        f"Severity: {severity}",
        f"Team:     {meta.team}",
        f"Runbook:  {meta.runbook_url or '(none: tag the alarm with Runbook)'}",
        f"Group:    {meta.group}",
        f"Reason:   {change.reason or '(none given)'}",
        f"Route:    {ctx.route}",
        f"ARN:      {change.arn}",
    ]
    return subject, "\n".join(lines)
