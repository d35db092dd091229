"""Vulnerability management stack: one ledger of findings from Inspector and the build-time scanners.

- ``<prefix>-vulns-poll`` (``vulns.poll_schedule``): Inspector's findings of our functions since the watermark,
  and its coverage (functions it does not scan, with why) -> the ledger;
- ``<prefix>-vulns-on-finding``: each "Inspector2 Finding" event of our functions -> the ledger at once;
- ``<prefix>-vulns-ingest-build``: each build report uploaded under ``vulns/build/`` of the ops bucket (S3
  "Object Created" through EventBridge, turned on in the foundation) -> the ledger, as that source's complete scan;
- ``<prefix>-vulns-report`` (``vulns.report_schedule``): JSON, Markdown and SARIF under ``vulns/reports/``, an SNS
  summary, and the metrics the SLA-breach alarm watches.

The ledger table (``<prefix>-vulns-ledger``) is keyed by ``pk`` with the sparse ``state-resource`` index, on the
ops key with PITR. The exceptions file is validated at synth and deployed to the ops bucket
(``vulns_exceptions.py``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from churnguard_ops.core import contracts
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.vulns_exceptions import deploy_exceptions_file
from infra_cdk.stacks.vulns_grants import grant_vulns_permissions

VULNS_SERVICE_NAME = "vulns"  # POWERTOOLS_SERVICE_NAME: every EMF metric carries {service: vulns}
EMF_SERVICE_DIMENSION = {"service": VULNS_SERVICE_NAME}


class VulnsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        vulns = config.vulns

        self.table = dynamodb.Table(
            self, "LedgerTable", table_name=f"{prefix}-vulns-ledger",
            partition_key=dynamodb.Attribute(name=contracts.VULNS_LEDGER_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=foundation.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            # The ledger is the findings' history (first seen, SLA clocks, exceptions applied): kept on delete.
            removal_policy=RemovalPolicy.RETAIN)
        self.table.add_global_secondary_index(
            index_name=contracts.VULNS_LEDGER_STATE_INDEX,
            partition_key=dynamodb.Attribute(name=contracts.VULNS_LEDGER_STATE_ATTRIBUTE,
                                             type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=contracts.VULNS_LEDGER_RESOURCE_ATTRIBUTE,
                                        type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL)

        environment = {
            **vulns.lambda_environment(),
            "VULNS_LEDGER_TABLE": self.table.table_name,
            "VULNS_BUCKET": foundation.bucket.bucket_name,
            "VULNS_KMS_KEY_ARN": foundation.key.key_arn,
            "VULNS_TOPIC_ARN": foundation.topic.topic_arn,
            "VULNS_EXCEPTIONS_KEY": contracts.VULNS_EXCEPTIONS_KEY,
            "VULNS_FUNCTION_PREFIX": f"{prefix}-",
            # The foundation's layer (<prefix>-shared) is the ledger's layer:ops.
            "VULNS_LAYER_RESOURCES": f'{{"{prefix}-shared":"{contracts.VULN_LAYER_RESOURCE}"}}',
        }

        def function(construct_id: str, name: str, handler: str, description: str, **extra: Any) -> OpsFunction:
            return foundation.function(
                self, construct_id, function_name=f"{prefix}-vulns-{name}", code_dir=FUNCTIONS_DIR / "vulns",
                handler=f"app.{handler}", description=description, service_name=VULNS_SERVICE_NAME,
                environment=environment, **extra)

        # A poll that fails is repeated by the next one (the watermark moves only after the ledger write).
        self.poll = function("VulnsPollFunction", "poll", "poll",
                             "Vulnerabilities: Inspector findings of our functions since the watermark, and coverage",
                             timeout=Duration.minutes(5), async_retry_attempts=1, max_event_age=Duration.hours(1))
        self.on_finding = function("VulnsOnFindingFunction", "on-finding", "on_finding",
                                   "Vulnerabilities: one Inspector2 Finding event -> the ledger",
                                   timeout=Duration.minutes(1), async_retry_attempts=2,
                                   max_event_age=Duration.hours(6))
        self.ingest_build = function("VulnsIngestBuildFunction", "ingest-build", "ingest_build",
                                     "Vulnerabilities: a build report (pip-audit, bandit, cdk-nag, cfn-lint) -> "
                                     "the ledger", timeout=Duration.minutes(2), async_retry_attempts=2,
                                     max_event_age=Duration.hours(6))
        self.report = function("VulnsReportFunction", "report", "report",
                               "Vulnerabilities: the weekly report (JSON, Markdown, SARIF) and its SNS summary",
                               timeout=Duration.minutes(5), memory_size=512, async_retry_attempts=2,
                               max_event_age=Duration.hours(6))
        self.functions = (self.poll, self.on_finding, self.ingest_build, self.report)
        grant_vulns_permissions(self, foundation=foundation, poll=self.poll, on_finding=self.on_finding,
                                ingest_build=self.ingest_build, report=self.report, table=self.table)
        self.exceptions_file = deploy_exceptions_file(self, foundation=foundation)

        self._rules(config, foundation)
        self.alarms = self._alarms(prefix, foundation)

        CfnOutput(self, "VulnsLedgerTableName", value=self.table.table_name,
                  description="The vulnerability ledger (findings, watermarks, latest scan per source)")
        CfnOutput(self, "VulnsReportFunctionName", value=self.report.function.function_name,
                  description="Run the vulnerability report now (opsctl vuln report)")

    def _rules(self, config: ChurnGuardContext, foundation: Foundation) -> None:
        prefix, vulns = config.prefix, config.vulns

        def target(fn: OpsFunction, retries: int, max_age: Duration,
                   event: events.RuleTargetInput | None = None) -> targets.LambdaFunction:
            return targets.LambdaFunction(fn.function, event=event, dead_letter_queue=fn.dlq, retry_attempts=retries,
                                          max_event_age=max_age)

        self.poll_schedule = events.Rule(
            self, "VulnsPollSchedule", rule_name=f"{prefix}-vulns-poll",
            description="Poll Inspector for our functions' findings and coverage",
            schedule=events.Schedule.expression(vulns.poll_schedule))
        self.poll_schedule.add_target(target(self.poll, 1, Duration.hours(1),
                                             events.RuleTargetInput.from_object({"action": "poll"})))
        self.report_schedule = events.Rule(
            self, "VulnsReportSchedule", rule_name=f"{prefix}-vulns-report",
            description="The weekly vulnerability report",
            schedule=events.Schedule.expression(vulns.report_schedule))
        self.report_schedule.add_target(target(self.report, 2, Duration.hours(6),
                                               events.RuleTargetInput.from_object({"action": "report"})))
        # Only our functions' findings (their layers' packages are reported on the functions that use them).
        our_functions = f"arn:{Aws.PARTITION}:lambda:{self.region}:{self.account}:function:{prefix}-"
        self.finding_rule = events.Rule(
            self, "VulnsInspectorFindingRule", rule_name=f"{prefix}-vulns-inspector-finding",
            description="Inspector2 findings of our functions, as they change",
            event_pattern=events.EventPattern(source=[contracts.INSPECTOR_EVENT_SOURCE],
                                              detail_type=[contracts.INSPECTOR_FINDING_DETAIL_TYPE],
                                              resources=events.Match.prefix(our_functions)))
        self.finding_rule.add_target(target(self.on_finding, 2, Duration.hours(6)))
        self.build_report_rule = events.Rule(
            self, "VulnsBuildReportRule", rule_name=f"{prefix}-vulns-build-report",
            description="A build report uploaded to the ops bucket under vulns/build/",
            event_pattern=events.EventPattern(
                source=["aws.s3"], detail_type=["Object Created"],
                detail={"bucket": {"name": [foundation.bucket.bucket_name]},
                        "object": {"key": events.Match.prefix(contracts.VULNS_BUILD_REPORTS_PREFIX)}}))
        self.build_report_rule.add_target(target(self.ingest_build, 2, Duration.hours(6)))

    def _alarms(self, prefix: str, foundation: Foundation) -> list[cw.Alarm]:
        def metric(name: str) -> cw.Metric:
            # The report and the poll run at most a few times a day: one day is one period.
            return cw.Metric(namespace=contracts.METRICS_NAMESPACE, metric_name=name,
                             dimensions_map=EMF_SERVICE_DIMENSION, statistic="Maximum", period=Duration.days(1))

        alarms = [
            foundation.any_alarm(self, "VulnsSlaBreachesAlarm", metric(contracts.VULNS_METRIC_SLA_BREACHES),
                                 alarm_name=f"{prefix}-vulns-sla-breaches",
                                 description="Open findings past their SLA deadline (see the weekly vulnerability "
                                             "report under vulns/reports/)."),
            foundation.any_alarm(self, "VulnsNotScannedAlarm", metric(contracts.VULNS_METRIC_NOT_SCANNED),
                                 alarm_name=f"{prefix}-vulns-not-scanned",
                                 description="Inspector does not scan some of our functions (the poll's log says "
                                             "which and why: idle, customer-managed key, not covered)."),
        ]
        for fn, name, what in ((self.poll, "poll", "A vulnerability poll"),
                               (self.on_finding, "on-finding", "An Inspector finding event"),
                               (self.ingest_build, "ingest-build", "A build report ingestion"),
                               (self.report, "report", "A vulnerability report run")):
            construct = "".join(part.capitalize() for part in name.split("-"))
            alarms.append(foundation.errors_alarm(self, f"Vulns{construct}ErrorsAlarm", fn.function,
                                                  alarm_name=f"{prefix}-vulns-{name}-errors",
                                                  description=f"{what} failed (see the function's log)."))
            assert fn.dlq is not None
            alarms.append(foundation.dlq_alarm(self, f"Vulns{construct}DlqAlarm", fn.dlq,
                                               alarm_name=f"{prefix}-vulns-{name}-dlq", what=what))
        return alarms
