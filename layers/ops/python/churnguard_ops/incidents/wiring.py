"""Composition root of incidents: settings + AWS adapters -> the service."""
from __future__ import annotations

from churnguard_ops.core import aws
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.contracts import INCIDENTS_EVENT_SOURCE
from churnguard_ops.core.metrics import EmfMetrics
from churnguard_ops.core.stores import EventBridgePublisher, SnsNotifier
from churnguard_ops.incidents.adapters import DynamoIncidentStore, S3Postmortems
from churnguard_ops.incidents.service import IncidentService, Policy
from churnguard_ops.incidents.settings import IncidentsSettings


def service(config: IncidentsSettings | None = None) -> IncidentService:
    config = config or IncidentsSettings()  # table and bucket come from the environment CDK sets
    region = aws.default_region()
    policy = Policy.from_minutes(group_window=config.group_window_minutes,
                                 escalate_after=config.escalate_after_minutes,
                                 auto_resolve=config.auto_resolve_minutes, retention_days=config.retention_days)
    return IncidentService(
        DynamoIncidentStore(config.table, region), S3Postmortems(config.bucket, config.kms_key_arn, region),
        EmfMetrics(), utcnow, policy,
        escalation=SnsNotifier(config.escalation_topic_arn, region) if config.escalation_topic_arn else None,
        events=EventBridgePublisher(INCIDENTS_EVENT_SOURCE, region=region))
