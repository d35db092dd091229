"""Alarms stack: the alarm router (EventBridge rule on alarm state changes, router Lambda, severity topics).

Every CloudWatch alarm state change reaches ``<prefix>-alarm-router`` (asynchronous, retried, DLQ). It
routes the change through the configured table (``alarms.routes``) to ordered actions, once per event
(Powertools idempotency records in an encrypted table with TTL). Severity topics
``<prefix>-alerts-critical|warning|info`` carry the notifications.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from churnguard_ops.core.contracts import ALARM_SEVERITIES
from infra_cdk.constructs import Foundation
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.alarms_grants import grant_router_permissions

ALARMS_SERVICE_NAME = "alarms"
#: The drill's state machine (``infra_cdk/stacks/drill_stack.py``): what ``start_drill`` starts.
DRILL_STATE_MACHINE_SUFFIX = "restore-drill"


class AlarmsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        alarms = config.alarms

        self.topics: dict[str, sns.Topic] = {
            severity: sns.Topic(self, f"Alerts{severity.capitalize()}Topic", topic_name=f"{prefix}-alerts-{severity}",
                                display_name=f"{prefix} {severity} alerts", master_key=foundation.topic_key,
                                enforce_ssl=True)
            for severity in ALARM_SEVERITIES}

        # Powertools idempotency records: one per (event id, action); expired by TTL.
        self.idempotency_table = dynamodb.Table(
            self, "IdempotencyTable", table_name=f"{prefix}-alarm-router-idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="expiration",
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=foundation.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=RemovalPolicy.DESTROY)

        self.drill_state_machine_arn = self.format_arn(
            service="states", resource="stateMachine", resource_name=f"{prefix}-{DRILL_STATE_MACHINE_SUFFIX}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME)
        max_age = Duration.minutes(alarms.max_event_age_minutes)
        self.router = foundation.function(
            self, "RouterFunction", function_name=f"{prefix}-alarm-router", code_dir=FUNCTIONS_DIR / "alarms",
            handler="app.route", description="Alarm router: alarm state changes to ordered, idempotent actions",
            service_name=ALARMS_SERVICE_NAME, timeout=Duration.seconds(60),
            environment={
                **alarms.lambda_environment(), "ALARMS_PREFIX": prefix,
                "ALARMS_TOPIC_ARNS": json.dumps({s: t.topic_arn for s, t in self.topics.items()}),
                "ALARMS_IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
                "ALARMS_DRILL_STATE_MACHINE_ARN": self.drill_state_machine_arn,
            },
            async_retry_attempts=2, max_event_age=max_age)
        grant_router_permissions(self, config=config, foundation=foundation, router=self.router,
                                 topics=list(self.topics.values()), table=self.idempotency_table,
                                 drill_state_machine_arn=self.drill_state_machine_arn)

        assert self.router.dlq is not None
        self.rule = events.Rule(
            self, "AlarmStateChangeRule", rule_name=f"{prefix}-alarm-router",
            description="Every CloudWatch alarm state change: route it to its actions",
            event_pattern=events.EventPattern(source=["aws.cloudwatch"],
                                              detail_type=["CloudWatch Alarm State Change"]))
        self.rule.add_target(targets.LambdaFunction(self.router.function, dead_letter_queue=self.router.dlq,
                                                    retry_attempts=2, max_event_age=max_age))

        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "RouterErrorsAlarm", self.router.function,
                                    alarm_name=f"{prefix}-alarm-router-errors",
                                    description="An alarm router action failed (it is retried; see the log)."),
            foundation.dlq_alarm(self, "RouterDlqAlarm", self.router.dlq, alarm_name=f"{prefix}-alarm-router-dlq",
                                 what="An alarm state change whose actions kept failing"),
        ]
        for severity, topic in self.topics.items():
            CfnOutput(self, f"Alerts{severity.capitalize()}TopicArn", value=topic.topic_arn,
                      description=f"Subscribe here to {severity} alerts")

