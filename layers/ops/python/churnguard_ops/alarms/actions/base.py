"""The kind ``router_action``: what an action receives and returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from churnguard_ops.alarms.model import AlarmChange, AlarmMeta, AlarmState, Severity
from churnguard_ops.alarms.ports import ExecutionStarter, FunctionInvoker, TopicPublisher
from churnguard_ops.core.registry import Plugin, PluginParams, PluginRegistry


@dataclass(frozen=True)
class ActionTargets:
    """Names the actions act on (set by the CDK app, so IAM and the runtime agree)."""

    prefix: str
    topic_arns: dict[Severity, str]
    drill_state_machine_arn: str = ""


@dataclass(frozen=True)
class ActionContext:
    change: AlarmChange
    meta: AlarmMeta
    route: str
    targets: ActionTargets
    lambdas: FunctionInvoker
    executions: ExecutionStarter
    topics: TopicPublisher


@dataclass
class ActionResult:
    detail: str
    skipped: bool = False
    data: dict[str, Any] = field(default_factory=dict)


class RouterAction(Plugin):
    """Base of router actions: ``run`` raises (an ``OpsError``) when the action failed."""

    #: States this action runs on unless its route entry says otherwise.
    states: ClassVar[tuple[AlarmState, ...]] = ("ALARM",)

    def run(self, ctx: ActionContext, params: PluginParams) -> ActionResult:
        raise NotImplementedError


ROUTER_ACTIONS: PluginRegistry[RouterAction] = PluginRegistry("router_action")
