"""Incidents stack: incident records, escalation, auto-resolve and postmortems.

One function (``<prefix>-incidents``) takes the router's and the operators' commands through the Lambda API
and, every minute, a sweep (escalation, auto-resolve, the open-incidents gauge). Incidents, their timelines and
the "open incident" pointers live in one table of this stack (ops key, PITR, TTL for resolved incidents); the
``by-status`` index lists them by status. Unacknowledged incidents page ``<prefix>-incidents-escalation``.
Postmortem drafts go to the ops bucket under ``incidents/postmortems/``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from churnguard_ops.core.contracts import (
    INCIDENTS_EVENT_SOURCE,
    INCIDENTS_FUNCTION_SUFFIX,
    INCIDENTS_STATUS_INDEX,
    INCIDENTS_TTL_ATTRIBUTE,
)
from infra_cdk.constructs import Foundation
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.incidents_grants import grant_incidents_permissions

INCIDENTS_SERVICE_NAME = "incidents"


class IncidentsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        incidents = config.incidents

        self.table = dynamodb.Table(
            self, "IncidentsTable", table_name=f"{prefix}-incidents",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute=INCIDENTS_TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=foundation.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            # The incident history is the postmortems' source: keep it when the stack goes.
            removal_policy=RemovalPolicy.RETAIN)
        # Sparse: only incident items carry ``status``, so the index holds incidents and nothing else.
        self.table.add_global_secondary_index(
            index_name=INCIDENTS_STATUS_INDEX,
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="opened_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL)

        self.escalation_topic = sns.Topic(
            self, "EscalationTopic", topic_name=f"{prefix}-incidents-escalation",
            display_name=f"{prefix} incident escalations", master_key=foundation.topic_key, enforce_ssl=True)
        for email in config.notification_emails:
            self.escalation_topic.add_subscription(subs.EmailSubscription(email))

        self.handler = foundation.function(
            self, "IncidentsFunction", function_name=f"{prefix}-{INCIDENTS_FUNCTION_SUFFIX}",
            code_dir=FUNCTIONS_DIR / "incidents", handler="app.handle",
            description="Incidents: open/attach from alarms, timeline, ack/note/resolve, escalation, postmortems",
            service_name=INCIDENTS_SERVICE_NAME, timeout=Duration.seconds(60),
            environment={**incidents.lambda_environment(), "INCIDENTS_TABLE": self.table.table_name,
                         "INCIDENTS_BUCKET": foundation.bucket.bucket_name,
                         "INCIDENTS_KMS_KEY_ARN": foundation.key.key_arn,
                         "INCIDENTS_ESCALATION_TOPIC_ARN": self.escalation_topic.topic_arn},
            # A sweep is repeated a minute later anyway: one retry, a short event age.
            async_retry_attempts=1, max_event_age=Duration.minutes(10))
        grant_incidents_permissions(self, foundation=foundation, handler=self.handler, table=self.table,
                                    escalation_topic=self.escalation_topic)

        # The schedule sends EventBridge's own "Scheduled Event", which the function reads as ``sweep``.
        self.sweep_schedule = events.Rule(self, "IncidentsSweepSchedule", rule_name=f"{prefix}-incidents-sweep",
                                          description="Incident escalation and auto-resolve",
                                          schedule=events.Schedule.expression(incidents.sweep_schedule))
        self.sweep_schedule.add_target(targets.LambdaFunction(
            self.handler.function, dead_letter_queue=self.handler.dlq, retry_attempts=1,
            max_event_age=Duration.minutes(10)))

        assert self.handler.dlq is not None
        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "IncidentsErrorsAlarm", self.handler.function,
                                    alarm_name=f"{prefix}-incidents-errors",
                                    description="The incidents function failed (see the function's log)."),
            foundation.dlq_alarm(self, "IncidentsDlqAlarm", self.handler.dlq, alarm_name=f"{prefix}-incidents-dlq",
                                 what="An incident sweep"),
        ]
        CfnOutput(self, "IncidentsFunctionName", value=self.handler.function.function_name,
                  description="Incident commands (opsctl incident list|show|ack|note|resolve)")
        CfnOutput(self, "IncidentsEscalationTopicArn", value=self.escalation_topic.topic_arn,
                  description="Paged once when an incident stays unacknowledged")
        CfnOutput(self, "IncidentsEventSource", value=INCIDENTS_EVENT_SOURCE,
                  description="EventBridge source of incident events (opened, acknowledged, escalated, resolved)")
