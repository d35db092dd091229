"""Restore drills, primary region: the Step Functions workflow, its task Lambdas and the sweeper.

Every week (``drill.schedule``) EventBridge starts ``churnguard-ops-restore-drill``: Plan picks a
recovery point, Restore creates ``churnguard-ops-drill-<id>`` from it, Validate and
MeasurePerformance run real SQL against the copy, ProveIndexes times the PostgreSQL advisor's
index proposals on it with and without each proposed index, Cleanup ALWAYS deletes what the drill created
(every risky task catches into it), and Report writes the S3 JSON, the DynamoDB history item, EMF
metrics and the SNS summary. An hourly sweeper deletes whatever a killed drill left behind, and a
freshness function emits how long ago each source last passed a drill (the no-success alarm's metric).

A stack of its own: the drill is its own capability with its own lifecycle (deploy/destroy it without
touching the backups). It reads baselines from and writes reports to the ops bucket, and notifies
the ops topic, all from the foundation stack (same account and region); with the app's
``defaultCrossStackReferences: weak`` CDK renders those as ``Fn::GetStackOutput`` of the
foundation stack's outputs.

One module per concern: ``drill_spec`` (contract names and task functions), ``drill_grants`` (IAM),
``drill_workflow`` (the state machine), ``drill_alarms``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from churnguard_ops.core.contracts import DRILL_INSTANCE_PREFIX, DRILL_SNAPSHOT_PREFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.vpc_access import place_in_vpc, warn_without_vpc
from infra_cdk.nag import suppress
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.drill_alarms import DRILL_SERVICE_NAME, create_drill_alarms
from infra_cdk.stacks.drill_grants import grant_drill_permissions
from infra_cdk.stacks.drill_spec import FRESHNESS_RATE, FUNCTION_SPECS
from infra_cdk.stacks.drill_workflow import create_drill_state_machine

DRILL_CODE_DIR = FUNCTIONS_DIR / "drill"

#: Input of the weekly EventBridge rule (contract).
SCHEDULED_DRILL_INPUT: dict[str, Any] = {"mode": "latest", "poll_seconds": 60, "max_wait_seconds": 5400}


class DrillStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ChurnGuardContext,
        foundation: Foundation,
        code_dir: Path = DRILL_CODE_DIR,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.foundation = foundation
        drill = config.drill
        prefix = config.prefix
        self.state_machine_name = f"{prefix}-restore-drill"
        self.drill_instance_prefix = DRILL_INSTANCE_PREFIX
        self.drill_snapshot_prefix = DRILL_SNAPSHOT_PREFIX

        # --- key, history ---------------------------------------------------------------------
        self.key = kms.Key(
            self,
            "DrillKey",
            alias=f"alias/{prefix}-drill",
            enable_key_rotation=True,
            description=f"{prefix}: restore-drill history table and state machine logs",
        )
        self.history_table = dynamodb.Table(
            self,
            "HistoryTable",
            table_name=f"{prefix}-drill-history",
            partition_key=dynamodb.Attribute(name="source_instance", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="drill_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Drill history is audit evidence (RTO/RPO over time): keep it when the stack goes.
            removal_policy=RemovalPolicy.RETAIN,
        )

        # --- functions ------------------------------------------------------------------------
        environment = {
            **drill.lambda_environment(config.backup),
            "DRILL_BUCKET": foundation.bucket.bucket_name,
            "DRILL_HISTORY_TABLE": self.history_table.table_name,
            "DRILL_TOPIC_ARN": foundation.topic.topic_arn,
        }
        self.ops_functions: dict[str, OpsFunction] = {}
        for spec in FUNCTION_SPECS:
            self.ops_functions[spec.key] = foundation.function(
                self,
                spec.construct_id,
                function_name=f"{prefix}-drill-{spec.key}",
                code_dir=code_dir,
                handler=spec.handler,
                description=spec.description,
                service_name=DRILL_SERVICE_NAME,
                environment=environment,
                timeout=spec.timeout,
                memory_size=spec.memory_size,
                # Task functions are invoked synchronously by Step Functions (its Retry/Catch apply);
                # only the scheduled sweeper is asynchronous (DLQ + Lambda retries).
                asynchronous=spec.scheduled,
                # One sweep (or freshness run) at a time: overlapping sweeps would race on the same deletes.
                reserved_concurrent_executions=1 if spec.scheduled else None,
            )
        self.functions: dict[str, lambda_.Function] = {k: f.function for k, f in self.ops_functions.items()}
        if drill.vpc is not None:
            # validate/measure/prove connect to the restored instance, which RDS puts in the source's subnets.
            for spec in FUNCTION_SPECS:
                if spec.needs_database:
                    place_in_vpc(self, spec.construct_id, self.ops_functions[spec.key], drill.vpc)
        elif drill.db_secrets:
            warn_without_vpc(self, "The drill's validate, measure and index-proof functions")
        grant_drill_permissions(self, self.ops_functions, config=config, foundation=foundation, drill_key=self.key,
                                history_table=self.history_table)

        # --- workflow, schedules --------------------------------------------------------------
        self.state_machine, self.log_group = create_drill_state_machine(
            self, state_machine_name=self.state_machine_name, functions=self.functions, key=self.key)

        self.schedule_dlq = sqs.Queue(
            self,
            "ScheduleDlq",
            queue_name=f"{prefix}-drill-schedule-dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        suppress(
            self.schedule_dlq, "SQS3",
            "This queue is itself the dead-letter queue of the weekly drill rule's target "
            "(StartExecution that EventBridge could not deliver); a DLQ for the DLQ adds nothing.",
        )
        self.schedule_rule = events.Rule(
            self,
            "WeeklyDrillSchedule",
            rule_name=f"{prefix}-restore-drill-weekly",
            description=f"Start the restore drill ({drill.schedule})",
            schedule=events.Schedule.expression(drill.schedule),
        )
        self.schedule_rule.add_target(
            targets.SfnStateMachine(
                self.state_machine,
                input=events.RuleTargetInput.from_object(dict(SCHEDULED_DRILL_INPUT)),
                dead_letter_queue=self.schedule_dlq,
                retry_attempts=2,
                max_event_age=Duration.hours(2),
            )
        )

        sweeper = self.ops_functions["sweeper"]
        assert sweeper.dlq is not None
        self.sweeper_dlq = sweeper.dlq
        self.sweeper_rule = events.Rule(
            self,
            "SweeperSchedule",
            rule_name=f"{prefix}-drill-sweeper",
            description="Delete expired restore-drill instances and snapshots (primary and DR region)",
            schedule=events.Schedule.rate(Duration.hours(1)),
        )
        self.sweeper_rule.add_target(
            targets.LambdaFunction(
                sweeper.function,
                dead_letter_queue=self.sweeper_dlq,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            )
        )

        freshness = self.ops_functions["freshness"]
        assert freshness.dlq is not None
        self.freshness_rule = events.Rule(
            self,
            "FreshnessSchedule",
            rule_name=f"{prefix}-drill-freshness",
            description="Emit the seconds since each drill source's last successful drill",
            schedule=events.Schedule.rate(FRESHNESS_RATE),
        )
        self.freshness_rule.add_target(
            targets.LambdaFunction(
                freshness.function,
                dead_letter_queue=freshness.dlq,
                retry_attempts=2,
                max_event_age=FRESHNESS_RATE,  # a stale measurement is superseded by the next one
            )
        )

        # --- alarms, outputs ------------------------------------------------------------------
        self.alarms: list[cw.Alarm] = create_drill_alarms(
            self, config=config, foundation=foundation, state_machine=self.state_machine,
            state_machine_name=self.state_machine_name, sweeper=sweeper.function, sweeper_dlq=self.sweeper_dlq,
            schedule_dlq=self.schedule_dlq)

        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn,
                  description="Restore-drill state machine (start an execution to run a drill)")
        CfnOutput(self, "HistoryTableName", value=self.history_table.table_name, description="Drill history")
        for spec in FUNCTION_SPECS:
            CfnOutput(self, f"{spec.construct_id}Name", value=self.functions[spec.key].function_name,
                      description=spec.description)
