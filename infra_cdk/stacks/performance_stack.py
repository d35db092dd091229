"""Performance stack: a 5-minute check (graded, deduplicated alerts) and a daily report over CloudWatch metrics.

The check reads every watched series in one batched GetMetricData, grades each against its threshold and
alerts on EventBridge (source ``churnguard.ops.performance``) and the ops topic; its dedup state lives in a
table of this stack (ops key, PITR, TTL). The report goes to the ops bucket under ``performance/reports/``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from churnguard_ops.core.contracts import PERFORMANCE_EVENT_SOURCE
from infra_cdk.constructs import Foundation
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.performance_grants import grant_performance_permissions

PERFORMANCE_SERVICE_NAME = "performance"


class PerformanceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        perf = config.performance

        self.table = dynamodb.Table(
            self, "AlertStateTable", table_name=f"{prefix}-performance-alerts",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="expires_at",
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=foundation.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            # Only dedup state: losing it means at most one repeated alert per breaching metric.
            removal_policy=RemovalPolicy.DESTROY)
        environment = {**perf.lambda_environment(), "PERFORMANCE_STATE_TABLE": self.table.table_name,
                       "PERFORMANCE_REPORTS_BUCKET": foundation.bucket.bucket_name,
                       "PERFORMANCE_KMS_KEY_ARN": foundation.key.key_arn,
                       "PERFORMANCE_TOPIC_ARN": foundation.topic.topic_arn}

        def function(construct_id: str, key: str, description: str, **extra: Any) -> Any:
            return foundation.function(
                self, construct_id, function_name=f"{prefix}-performance-{key}", code_dir=FUNCTIONS_DIR / "performance",
                handler=f"app.{key}", description=description, service_name=PERFORMANCE_SERVICE_NAME,
                environment=environment, **extra)

        # A check older than its next run is worth nothing: no retries beyond one, short event age.
        self.checker = function("PerformanceCheckFunction", "check",
                                "Performance check: thresholds graded by severity, deduplicated alerts",
                                timeout=Duration.seconds(60), async_retry_attempts=1,
                                max_event_age=Duration.minutes(10))
        self.reporter = function("PerformanceReportFunction", "report",
                                 "Performance report over any window: statistics, trend, recommendations",
                                 timeout=Duration.minutes(5), memory_size=512, async_retry_attempts=2,
                                 max_event_age=Duration.hours(6))
        grant_performance_permissions(self, config=config, foundation=foundation, checker=self.checker,
                                      reporter=self.reporter, table=self.table)

        # No custom input: the functions receive EventBridge's own scheduled event.
        self.check_schedule = events.Rule(self, "PerformanceCheckSchedule", rule_name=f"{prefix}-performance-check",
                                          description="The performance check",
                                          schedule=events.Schedule.expression(perf.check_schedule))
        self.check_schedule.add_target(targets.LambdaFunction(
            self.checker.function, dead_letter_queue=self.checker.dlq, retry_attempts=1,
            max_event_age=Duration.minutes(10)))
        self.report_schedule = events.Rule(self, "PerformanceReportSchedule",
                                           rule_name=f"{prefix}-performance-report",
                                           description="The daily performance report",
                                           schedule=events.Schedule.expression(perf.report_schedule))
        self.report_schedule.add_target(targets.LambdaFunction(
            self.reporter.function, dead_letter_queue=self.reporter.dlq, retry_attempts=2))

        assert self.checker.dlq is not None and self.reporter.dlq is not None
        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "PerformanceCheckErrorsAlarm", self.checker.function,
                                    alarm_name=f"{prefix}-performance-check-errors",
                                    description="The performance check failed (see the function's log)."),
            foundation.dlq_alarm(self, "PerformanceCheckDlqAlarm", self.checker.dlq,
                                 alarm_name=f"{prefix}-performance-check-dlq", what="A performance check"),
            foundation.errors_alarm(self, "PerformanceReportErrorsAlarm", self.reporter.function,
                                    alarm_name=f"{prefix}-performance-report-errors",
                                    description="The performance report failed (see the function's log)."),
            foundation.dlq_alarm(self, "PerformanceReportDlqAlarm", self.reporter.dlq,
                                 alarm_name=f"{prefix}-performance-report-dlq", what="A performance report run"),
        ]
        CfnOutput(self, "PerformanceReportFunctionName", value=self.reporter.function.function_name,
                  description="Run a performance report now (opsctl perf report)")
        CfnOutput(self, "PerformanceEventSource", value=PERFORMANCE_EVENT_SOURCE,
                  description="EventBridge source of performance alerts")
