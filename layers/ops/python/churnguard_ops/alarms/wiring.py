"""Composition root: settings + AWS adapters -> the router."""
from __future__ import annotations

from typing import Any

from churnguard_ops.alarms.actions import ActionTargets
from churnguard_ops.alarms.adapters import (
    CloudWatchAlarmTags,
    DynamoActionLedger,
    LambdaInvoker,
    SnsTopics,
    StepFunctionsStarter,
)
from churnguard_ops.alarms.routes import RoutingTable
from churnguard_ops.alarms.service import Router
from churnguard_ops.alarms.settings import AlarmsSettings
from churnguard_ops.core.metrics import EmfMetrics


def router(context: Any = None) -> Router:
    settings = AlarmsSettings()
    ledger = DynamoActionLedger(settings.idempotency_table, settings.idempotency_ttl_seconds)
    ledger.register_context(context)
    return Router(
        table=RoutingTable.model_validate({"routes": settings.routes}),
        targets=ActionTargets(prefix=settings.prefix, topic_arns=settings.topic_arns,  # type: ignore[arg-type]
                              drill_state_machine_arn=settings.drill_state_machine_arn),
        tags=CloudWatchAlarmTags(), lambdas=LambdaInvoker(), executions=StepFunctionsStarter(), topics=SnsTopics(),
        ledger=ledger, metrics=EmfMetrics())
