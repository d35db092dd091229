"""DbAdvisor stack: the PostgreSQL advisor (function, weekly schedule, grants and alarms).

One function reads each configured instance's statistics and catalog (in the database VPC when
``dbadvisor.vpc`` is set), writes the advice under ``dbadvisor/reports/`` and the latest index proposals
under ``dbadvisor/proposals/`` in the ops bucket (ops key), and summarises on the ops topic. Weekly, and on
demand (``opsctl db advise``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra_cdk.constructs import Foundation
from infra_cdk.constructs.vpc_access import place_in_vpc
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.dbadvisor_grants import grant_dbadvisor_permissions

DBADVISOR_SERVICE_NAME = "dbadvisor"


class DbAdvisorStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        advice = config.dbadvisor
        self.advisor = foundation.function(
            self, "DbAdvisorFunction", function_name=f"{prefix}-dbadvisor", code_dir=FUNCTIONS_DIR / "dbadvisor",
            handler="app.advise", service_name=DBADVISOR_SERVICE_NAME,
            description="PostgreSQL advisor: slow queries, column-level index advice, unused/duplicate indexes, health",
            timeout=Duration.minutes(5), memory_size=512,
            environment={**advice.lambda_environment(), "DBADVISOR_BUCKET": foundation.bucket.bucket_name,
                         "DBADVISOR_KMS_KEY_ARN": foundation.key.key_arn,
                         "DBADVISOR_TOPIC_ARN": foundation.topic.topic_arn},
            # A weekly advice two retries late is still useful; the DLQ alarm says when it never ran.
            async_retry_attempts=2, max_event_age=Duration.hours(6))
        if advice.vpc is not None:
            place_in_vpc(self, "DbAdvisorFunction", self.advisor, advice.vpc)
        elif advice.db_secrets:
            Annotations.of(self).add_warning_v2(
                "churnguard:no-database-vpc",
                "The PostgreSQL advisor connects to the databases named in dbadvisor.db_secrets but dbadvisor.vpc "
                "is not set: it runs outside any VPC and reaches only publicly accessible databases.")
        grant_dbadvisor_permissions(self, config=config, foundation=foundation, advisor=self.advisor)

        self.schedule = events.Rule(self, "DbAdvisorSchedule", rule_name=f"{prefix}-dbadvisor",
                                    description="The weekly PostgreSQL advice for every configured instance",
                                    schedule=events.Schedule.expression(advice.schedule))
        self.schedule.add_target(targets.LambdaFunction(
            self.advisor.function, event=events.RuleTargetInput.from_object({"action": "advise"}),
            dead_letter_queue=self.advisor.dlq, retry_attempts=2))

        assert self.advisor.dlq is not None
        self.alarms: list[cw.Alarm] = [
            foundation.errors_alarm(self, "DbAdvisorErrorsAlarm", self.advisor.function,
                                    alarm_name=f"{prefix}-dbadvisor-errors",
                                    description="The PostgreSQL advisor failed for an instance (see its log)."),
            foundation.dlq_alarm(self, "DbAdvisorDlqAlarm", self.advisor.dlq, alarm_name=f"{prefix}-dbadvisor-dlq",
                                 what="A PostgreSQL advisor run"),
        ]
        CfnOutput(self, "DbAdvisorFunctionName", value=self.advisor.function.function_name,
                  description="Advise now (opsctl db advise)")
