"""Cost reports: a weekly Lambda reads Cost Explorer, utilisation and inventories, and writes the report.

The report (JSON, Markdown, HTML with charts) goes to the ops bucket under ``cost/reports/``, encrypted with
the ops key; the ops topic gets a summary with a link. Cost Explorer results are cached per period under
``cost/cache/``, so a re-run in the same period costs no Cost Explorer requests.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra_cdk.constructs import Foundation
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.cost_grants import grant_cost_permissions

COST_SERVICE_NAME = "cost"


class CostStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        cost = config.cost
        self.reporter = foundation.function(
            self, "CostReportFunction", function_name=f"{prefix}-cost-report", code_dir=FUNCTIONS_DIR / "cost",
            handler="app.report", description="Weekly cost report: costs, utilisation, savings with their maths",
            service_name=COST_SERVICE_NAME, timeout=Duration.minutes(5), memory_size=512,
            environment={**cost.lambda_environment(), "COST_REPORTS_BUCKET": foundation.bucket.bucket_name,
                         "COST_KMS_KEY_ARN": foundation.key.key_arn, "COST_TOPIC_ARN": foundation.topic.topic_arn},
            # A weekly report two retries late is still useful; the DLQ alarm says when it never ran.
            async_retry_attempts=2, max_event_age=Duration.hours(6))
        grant_cost_permissions(self, config=config, foundation=foundation, reporter=self.reporter)

        self.schedule = events.Rule(self, "CostReportSchedule", rule_name=f"{prefix}-cost-report",
                                    description="The weekly cost report",
                                    schedule=events.Schedule.expression(cost.schedule))
        self.schedule.add_target(targets.LambdaFunction(
            self.reporter.function, event=events.RuleTargetInput.from_object({"action": "report"}),
            dead_letter_queue=self.reporter.dlq, retry_attempts=2))

        assert self.reporter.dlq is not None
        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "CostReportErrorsAlarm", self.reporter.function,
                                    alarm_name=f"{prefix}-cost-report-errors",
                                    description="The cost report failed (see the function's log)."),
            foundation.dlq_alarm(self, "CostReportDlqAlarm", self.reporter.dlq, alarm_name=f"{prefix}-cost-report-dlq",
                                 what="A cost report run"),
        ]
        CfnOutput(self, "CostReportFunctionName", value=self.reporter.function.function_name,
                  description="Run a cost report now (opsctl cost report)")
