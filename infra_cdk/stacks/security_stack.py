"""Security analysis: EventBridge -> SQS -> analyzer Lambda in batches, alerts, remediation, weekly reports.

- Application security events (the configured source and detail-types) and CloudTrail's EventBridge events
  land in one queue; the analyzer drains it in batches, reports partial failures, and quarantines
  malformed records in the dead-letter queue with their reason (retried ones reach it by redrive).
- Detector state (windows, dedup claims) lives in a DynamoDB table written conditionally; alerts, the
  per-organization event tallies and remediation records share a second table.
- Alerts go to EventBridge (``churnguard.ops.security``) and the ops topic. Brute-force alerts reach the
  remediation function, which blocks the IP in a WAF IP set for a TTL (dry-run by default); the same
  function sweeps expired blocks hourly. A weekly function writes per-organization reports to the ops bucket.

One module per concern: ``security_grants`` (IAM).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from churnguard_ops.core.contracts import SECURITY_ALERT_DETAIL_TYPE, SECURITY_EVENT_SOURCE
from churnguard_ops.security.cloudtrail import CLOUDTRAIL_DETAIL_TYPES
from infra_cdk.constructs import Foundation
from infra_cdk.nag import suppress
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.security_grants import grant_security_permissions

SECURITY_SERVICE_NAME = "security"
SECURITY_CODE_DIR = FUNCTIONS_DIR / "security"
ANALYZER_TIMEOUT = Duration.seconds(60)
#: AWS's advice for an SQS event source: a visibility timeout of six times the function's timeout.
QUEUE_VISIBILITY = Duration.seconds(6 * 60)
CLOUDTRAIL_RULE_TYPES = sorted({"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"}
                               & CLOUDTRAIL_DETAIL_TYPES)


class SecurityStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        security = config.security

        self.key = kms.Key(self, "SecurityKey", alias=f"alias/{prefix}-security", enable_key_rotation=True,
                           description=f"{prefix}: security analysis tables")
        self.state_table = self._table("DetectorStateTable", f"{prefix}-security-state", sort_key=False)
        self.table = self._table("SecurityTable", f"{prefix}-security", sort_key=True)

        # --- the event path ------------------------------------------------------------------------
        self.dlq = sqs.Queue(self, "EventsDlq", queue_name=f"{prefix}-security-events-dlq",
                             encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                             retention_period=Duration.days(14))
        suppress(self.dlq, "SQS3", "This queue is itself the dead-letter queue (quarantine and redrive target).")
        # SQS-managed encryption: EventBridge can deliver to it without a key policy grant.
        self.queue = sqs.Queue(self, "EventsQueue", queue_name=f"{prefix}-security-events",
                               encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                               visibility_timeout=QUEUE_VISIBILITY, retention_period=Duration.days(4),
                               dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq,
                                                                     max_receive_count=security.max_receive_count))
        self.app_rule = events.Rule(
            self, "AppEventsRule", rule_name=f"{prefix}-security-app-events",
            description="ChurnGuard's application security events -> the security analyzer's queue",
            event_pattern=events.EventPattern(source=[security.app_event_source],
                                              detail_type=list(security.app_detail_types)))
        self.app_rule.add_target(targets.SqsQueue(self.queue, dead_letter_queue=self.dlq, retry_attempts=10))
        self.cloudtrail_rule: events.Rule | None = None
        if security.cloudtrail:
            self.cloudtrail_rule = events.Rule(
                self, "CloudTrailRule", rule_name=f"{prefix}-security-cloudtrail",
                description="CloudTrail API calls and console sign-ins -> the security analyzer's queue",
                event_pattern=events.EventPattern(detail_type=CLOUDTRAIL_RULE_TYPES))
            self.cloudtrail_rule.add_target(targets.SqsQueue(self.queue, dead_letter_queue=self.dlq,
                                                             retry_attempts=10))

        self.ip_set = wafv2.CfnIPSet(
            self, "BlockedIpSet", name=f"{prefix}-security-blocked-ips", scope=security.waf_scope,
            ip_address_version="IPV4", addresses=[],
            description="IPs blocked by ChurnGuard Ops brute-force remediation, each for a TTL, swept hourly")

        environment = {
            **security.lambda_environment(),
            "SECURITY_STATE_TABLE": self.state_table.table_name,
            "SECURITY_TABLE": self.table.table_name,
            "SECURITY_QUARANTINE_QUEUE_URL": self.dlq.queue_url,
            "SECURITY_TOPIC_ARN": foundation.topic.topic_arn,
            "SECURITY_REPORTS_BUCKET": foundation.bucket.bucket_name,
            "SECURITY_WAF_IP_SET_NAME": self.ip_set.name or "",
            "SECURITY_WAF_IP_SET_ID": self.ip_set.attr_id,
        }

        def function(construct_id: str, key: str, handler: str, description: str, **extra: Any) -> Any:
            return foundation.function(
                self, construct_id, function_name=f"{prefix}-security-{key}", code_dir=SECURITY_CODE_DIR,
                handler=handler, description=description, service_name=SECURITY_SERVICE_NAME,
                environment=environment, **extra)

        # Driven by the SQS event source (its redrive is the DLQ), so not asynchronous.
        self.analyzer = function("AnalyzerFunction", "analyze", "app.analyze",
                                 "Security analysis: detectors over app and CloudTrail events (SQS batches)",
                                 timeout=ANALYZER_TIMEOUT, asynchronous=False, memory_size=512)
        self.analyzer.function.add_event_source(sources.SqsEventSource(
            self.queue, batch_size=security.batch_size, report_batch_item_failures=True,
            max_batching_window=Duration.seconds(security.max_batching_window_seconds)))
        self.remediator = function("RemediationFunction", "remediate", "app.remediate",
                                   "Security remediation: block brute-force IPs in WAF for a TTL; hourly sweep",
                                   # One at a time: the hourly cap on new blocks is exact only without races.
                                   timeout=Duration.seconds(60), reserved_concurrent_executions=1)
        self.reporter = function("ReportFunction", "report", "app.report",
                                 "Security reports: weekly per-organization JSON and HTML", timeout=Duration.minutes(5))
        grant_security_permissions(self, foundation=foundation, analyzer=self.analyzer, remediator=self.remediator,
                                   reporter=self.reporter, state_table=self.state_table, table=self.table,
                                   key=self.key, dlq=self.dlq, ip_set=self.ip_set)

        # --- alerts -> remediation; schedules -------------------------------------------------------
        policy = security.remediation_policy()
        assert self.remediator.dlq is not None
        self.remediation_rule = events.Rule(
            self, "RemediationRule", rule_name=f"{prefix}-security-remediation",
            description="Brute-force alerts -> block the source IP for a TTL (dry-run unless configured)",
            event_pattern=events.EventPattern(source=[SECURITY_EVENT_SOURCE], detail_type=[SECURITY_ALERT_DETAIL_TYPE],
                                              detail={"detector": list(policy.enabled_detectors)}))
        self.remediation_rule.add_target(targets.LambdaFunction(
            self.remediator.function, dead_letter_queue=self.remediator.dlq, retry_attempts=4))
        self.sweep_rule = events.Rule(
            self, "SweepSchedule", rule_name=f"{prefix}-security-sweep",
            description="Remove WAF blocks whose TTL has passed (only the ones we added)",
            schedule=events.Schedule.expression(security.sweep_schedule))
        self.sweep_rule.add_target(targets.LambdaFunction(
            self.remediator.function, event=events.RuleTargetInput.from_object({"action": "sweep"}),
            dead_letter_queue=self.remediator.dlq, retry_attempts=2))
        assert self.reporter.dlq is not None
        self.report_rule = events.Rule(
            self, "ReportSchedule", rule_name=f"{prefix}-security-report",
            description="Weekly per-organization security reports (the week that ended at the last Monday 00:00 UTC)",
            schedule=events.Schedule.expression(security.report_schedule))
        self.report_rule.add_target(targets.LambdaFunction(
            self.reporter.function, event=events.RuleTargetInput.from_object({"action": "report"}),
            dead_letter_queue=self.reporter.dlq, retry_attempts=2))

        # --- alarms ---------------------------------------------------------------------------------
        backlog = self.queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum")
        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "AnalyzerErrorsAlarm", self.analyzer.function,
                                    alarm_name=f"{prefix}-security-analyzer-errors",
                                    description="The security analyzer failed a whole batch (records are retried)."),
            foundation.dlq_alarm(self, "EventsDlqAlarm", self.dlq, alarm_name=f"{prefix}-security-events-dlq",
                                 what="A security event (malformed: see its 'reason' attribute; or retried out)"),
            foundation.alarm(self, "EventsBacklogAlarm", metric=backlog, threshold=600,
                             comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluation_periods=2,
                             treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                             alarm_name=f"{prefix}-security-events-backlog",
                             alarm_description="Security events wait more than 10 minutes: detection is late."),
            foundation.errors_alarm(self, "RemediationErrorsAlarm", self.remediator.function,
                                    alarm_name=f"{prefix}-security-remediation-errors",
                                    description="Security remediation failed (a block or a sweep)."),
            foundation.dlq_alarm(self, "RemediationDlqAlarm", self.remediator.dlq,
                                 alarm_name=f"{prefix}-security-remediation-dlq", what="A remediation request"),
            foundation.errors_alarm(self, "ReportErrorsAlarm", self.reporter.function,
                                    alarm_name=f"{prefix}-security-report-errors",
                                    description="The weekly security report failed."),
        ]

        CfnOutput(self, "SecurityEventsQueueUrl", value=self.queue.queue_url,
                  description="Events the analyzer reads (EventBridge rules deliver here)")
        CfnOutput(self, "SecurityDlqUrl", value=self.dlq.queue_url,
                  description="Malformed records (with a 'reason' attribute) and records retried out")
        CfnOutput(self, "SecurityBlockedIpSetArn", value=self.ip_set.attr_arn,
                  description="Reference it in a block rule of the API's web ACL to enforce remediation")
        CfnOutput(self, "SecurityEventSource", value=SECURITY_EVENT_SOURCE,
                  description="EventBridge source of security alerts and remediation actions")

    def _table(self, construct_id: str, name: str, *, sort_key: bool) -> dynamodb.Table:
        return dynamodb.Table(
            self, construct_id, table_name=name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING) if sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="expires_at",
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=RemovalPolicy.DESTROY)
