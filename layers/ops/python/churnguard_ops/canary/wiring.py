"""Composition root for the canary tasks: settings + AWS adapters -> the workflow."""
from __future__ import annotations

from churnguard_ops.canary.adapters import (
    CloudWatchAlarmStates,
    CloudWatchMetricsSource,
    DynamoReleaseLock,
    LambdaAliasShifter,
    LambdaSmokeInvoker,
    StepFunctionsExecutions,
)
from churnguard_ops.canary.approvals import DecisionAnnouncer
from churnguard_ops.canary.decisions import PublishedDecisionLog
from churnguard_ops.canary.flag_adapters import AppConfigFlags
from churnguard_ops.canary.flag_shifter import FlagShifter
from churnguard_ops.canary.settings import CanarySettings
from churnguard_ops.canary.workflow import CanaryWorkflow
from churnguard_ops.core import aws, contracts
from churnguard_ops.core.stores import EventBridgePublisher, S3Documents, SnsNotifier


def settings() -> CanarySettings:
    return CanarySettings()  # lock_table comes from the environment (CANARY_LOCK_TABLE)


def workflow(config: CanarySettings | None = None) -> CanaryWorkflow:
    config = config or settings()
    region = aws.default_region()
    events = EventBridgePublisher(contracts.CANARY_EVENT_SOURCE, config.event_bus_name, region)
    documents = S3Documents(config.decisions_bucket, region) if config.decisions_bucket else None
    lock = DynamoReleaseLock(config.lock_table, region)
    return CanaryWorkflow(shifter=LambdaAliasShifter(region), metrics=CloudWatchMetricsSource(region),
                          smoke=LambdaSmokeInvoker(region), alarms=CloudWatchAlarmStates(region),
                          decisions=PublishedDecisionLog(documents, events), lock=lock,
                          events=events, allowed_functions=config.functions,
                          executions=StepFunctionsExecutions(region), flags=flag_shifter(config, lock, region))


def flag_shifter(config: CanarySettings, lock: DynamoReleaseLock, region: str | None) -> FlagShifter | None:
    if not config.flags_configured:
        return None
    assert config.flags_application_id and config.flags_profile_id and config.flags_strategy_id
    store = AppConfigFlags(config.flags_application_id, config.flags_profile_id, config.flags_strategy_id,
                           config.flags_environments, region)
    return FlagShifter(store, lock, propagation_seconds=config.flags_propagation_seconds)


def decision_requests(config: CanarySettings | None = None) -> DecisionAnnouncer:
    config = config or settings()
    region = aws.default_region()
    notifier = SnsNotifier(config.topic_arn, region) if config.topic_arn else None
    return DecisionAnnouncer(notifier, EventBridgePublisher(contracts.CANARY_EVENT_SOURCE, config.event_bus_name,
                                                            region))
