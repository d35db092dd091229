"""Restore drills, primary region: the Step Functions workflow, its task Lambdas and the sweeper.

Every week (``drill.schedule``) EventBridge starts ``churnguard-ops-restore-drill``: Plan picks a
recovery point, Restore creates ``churnguard-ops-drill-<id>`` from it, Validate and
MeasurePerformance run real SQL against the copy, Cleanup ALWAYS deletes what the drill created
(every risky task catches into it), and Report writes the S3 JSON, the DynamoDB history item, EMF
metrics and the SNS summary. An hourly sweeper deletes whatever a killed drill left behind.

A separate stack rather than more resources in BackupStack: the drill is its own capability with
its own lifecycle (deploy/destroy it without touching the backups), and the backup stack's tests
and template stay as they are. It consumes the backup bucket, the backup CMK and the ops topic
from BackupStack (same account and region). With the app's ``defaultCrossStackReferences: weak``
CDK renders those as ``Fn::GetStackOutput`` of the backup stack's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra_cdk.constructs.alarms import ops_alarm
from infra_cdk.constructs import OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.constructs.vpc_access import place_in_vpc, warn_without_vpc
from infra_cdk.nag import resource_finding, suppress
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import DRILL_STATE_MACHINE_TIMEOUT_HOURS, ChurnGuardContext, secret_policy_resources
from infra_cdk.stacks.drill_spec import (
    FUNCTION_SPECS,
    HANDLER_TRANSIENT_ERRORS,
    LAMBDA_TRANSIENT_ERRORS,
    NO_SUCCESS_ALERT_DAYS,
    NO_SUCCESS_EVALUATION_PERIODS,
    NO_SUCCESS_PERIOD,
    STATE_CLEANUP,
    STATE_DRILL_PASSED,
    STATE_FAILED,
    STATE_INSTANCE_AVAILABLE,
    STATE_MEASURE,
    STATE_PLAN,
    STATE_POLL_INSTANCE,
    STATE_POLL_SNAPSHOT,
    STATE_RECOVERY_POINT_READY,
    STATE_REPORT,
    STATE_RESTORE,
    STATE_SUCCEEDED,
    STATE_VALIDATE,
    STATE_WAIT_FOR_INSTANCE,
    STATE_WAIT_FOR_SNAPSHOT,
)

METRICS_NAMESPACE = "ChurnGuardOps"
DRILL_SERVICE_NAME = "drill"  # POWERTOOLS_SERVICE_NAME of every drill function
# Powertools adds service=<POWERTOOLS_SERVICE_NAME> to every EMF metric (single_metric too), and
# CloudWatch alarms match dimension sets exactly (see backup_stack.EMF_SERVICE_DIMENSION).
EMF_SERVICE_DIMENSION = {"service": DRILL_SERVICE_NAME}
DRILL_CODE_DIR = FUNCTIONS_DIR / "drill"
PURPOSE_TAG_VALUE = "RestoreDrill"

#: Input of the weekly EventBridge rule (contract).
SCHEDULED_DRILL_INPUT: dict[str, Any] = {"mode": "latest", "poll_seconds": 60, "max_wait_seconds": 5400}

#: Errors of the Lambda service itself (not of the handler) that are worth a retry (contract).
class DrillStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ChurnGuardContext,
        bucket: s3.IBucket,
        bucket_key: kms.IKey,
        topic: sns.ITopic,
        layer: lambda_.ILayerVersion,
        code_dir: Path = DRILL_CODE_DIR,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        drill = config.drill
        prefix = config.prefix
        self.bucket = bucket
        self.bucket_key = bucket_key
        self.topic = topic
        if topic.master_key is None:
            raise ValueError("the ops topic must be SSE-KMS encrypted (its key is granted to the report function)")
        self.topic_key = topic.master_key
        self.state_machine_name = f"{prefix}-restore-drill"
        self.drill_instance_prefix = f"{prefix}-drill-"
        self.drill_snapshot_prefix = f"{prefix}-dr-test-"

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
            "DRILL_BUCKET": bucket.bucket_name,
            "DRILL_HISTORY_TABLE": self.history_table.table_name,
            "DRILL_TOPIC_ARN": topic.topic_arn,
        }
        self.ops_functions: dict[str, OpsFunction] = {}
        for spec in FUNCTION_SPECS:
            self.ops_functions[spec.key] = OpsFunction(
                self,
                spec.construct_id,
                function_name=f"{prefix}-drill-{spec.key}",
                code_dir=code_dir,
                handler=spec.handler,
                description=spec.description,
                service_name=DRILL_SERVICE_NAME,
                layers=[layer],
                environment=environment,
                timeout=spec.timeout,
                memory_size=spec.memory_size,
                metrics_namespace=METRICS_NAMESPACE,
                # Task functions are invoked synchronously by Step Functions (its Retry/Catch apply);
                # only the scheduled sweeper is asynchronous (DLQ + Lambda retries).
                asynchronous=spec.scheduled,
                # One sweep at a time: overlapping sweeps would race on the same deletes.
                reserved_concurrent_executions=1 if spec.scheduled else None,
            )
        self.functions: dict[str, lambda_.Function] = {k: f.function for k, f in self.ops_functions.items()}
        if drill.vpc is not None:
            self._place_database_functions_in_vpc()
        elif drill.db_secrets:
            warn_without_vpc(self, "The drill's validate and measure functions")
        self._grant_permissions()

        # --- workflow, schedules --------------------------------------------------------------
        self.state_machine = self._create_state_machine()

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

        # --- alarms, outputs ------------------------------------------------------------------
        self.alarms: list[cw.Alarm] = []
        self._create_alarms()

        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn,
                  description="Restore-drill state machine (start an execution to run a drill)")
        CfnOutput(self, "HistoryTableName", value=self.history_table.table_name, description="Drill history")
        for spec in FUNCTION_SPECS:
            CfnOutput(self, f"{spec.construct_id}Name", value=self.functions[spec.key].function_name,
                      description=spec.description)

    # ------------------------------------------------------------------------------------------
    def _rds_arn(self, region: str, resource_type: str, name: str) -> str:
        return f"arn:{Aws.PARTITION}:rds:{region}:{self.account}:{resource_type}:{name}"

    def _place_database_functions_in_vpc(self) -> None:
        """validate/measure connect to the restored instance, which RDS puts in the source's subnets."""
        vpc_config = self.config.drill.vpc
        assert vpc_config is not None
        for spec in FUNCTION_SPECS:
            if spec.needs_database:
                place_in_vpc(self, spec.construct_id, self.ops_functions[spec.key], vpc_config)

    # ------------------------------------------------------------------------------------------
    def _grant_permissions(self) -> None:
        prefix = self.config.prefix
        drill = self.config.drill
        primary, dr = self.region, self.config.backup.dr_region
        regions = [primary, dr]

        source_dbs = [self._rds_arn(primary, "db", i) for i in self.config.backup.db_instance_ids]
        drill_instances = [self._rds_arn(r, "db", f"{self.drill_instance_prefix}*") for r in regions]
        drill_snapshots = [self._rds_arn(r, "snapshot", f"{self.drill_snapshot_prefix}*") for r in regions]
        any_snapshot = [self._rds_arn(r, "snapshot", "*") for r in regions]
        any_instance = [self._rds_arn(r, "db", "*") for r in regions]
        restore_dependencies = [self._rds_arn(r, t, "*") for r in regions for t in ("subgrp", "og", "pg")]
        dr_keys = f"arn:{Aws.PARTITION}:kms:{dr}:{self.account}:key/*"
        by_dr_alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [self.config.backup.dr_kms_key_alias]}}
        delete_only_drill_resources = {
            "StringEquals": {"aws:ResourceTag/Purpose": PURPOSE_TAG_VALUE, "aws:ResourceTag/CreatedBy": prefix}
        }

        why_drill_names = (
            f"Drill resources are named per drill: instances '{self.drill_instance_prefix}<drill id>', "
            f"snapshots '{self.drill_snapshot_prefix}<drill id>', in the primary and DR region; nothing else "
            "matches these prefixes (and deletes are further conditioned on the Purpose/CreatedBy tags)."
        )
        why_list_snapshots = (
            "rds:DescribeDBSnapshots lists snapshots to find the newest backup of a configured instance "
            "(snapshot names are generated per backup tick) or reads a snapshot named by the execution input; "
            "the list call cannot be scoped to names. Read-only, primary and DR region only."
        )
        why_dr_key = (
            "The DR CMK lives in another region/stack and is addressed by alias only: key/* is narrowed to "
            "that one key by the kms:ResourceAliases condition."
        )

        fns = self.ops_functions
        grants: dict[str, RoleGrants] = {k: RoleGrants(self, f.role) for k, f in fns.items()}

        # plan: find the recovery point; mode "fresh" snapshots the source as <prefix>-dr-test-<id>.
        g = grants["plan"]
        g.add("RdsDescribeSources", ["rds:DescribeDBInstances"], source_dbs)
        g.add("RdsFindRecoveryPoints", ["rds:DescribeDBSnapshots"], any_snapshot, why_wildcard=why_list_snapshots)
        g.add("RdsTakeDrillSnapshot", ["rds:CreateDBSnapshot"], [*source_dbs, drill_snapshots[0]],
              why_wildcard=why_drill_names)
        g.add("RdsTagDrillSnapshot", ["rds:AddTagsToResource"], [drill_snapshots[0]], why_wildcard=why_drill_names)

        # restore: a drill instance from a snapshot (primary or DR copy) or to a point in time.
        g = grants["restore"]
        g.add("RdsDescribeSourcesAndDrillInstances", ["rds:DescribeDBInstances"], [*source_dbs, *drill_instances],
              why_wildcard=why_drill_names)
        g.add("RdsReadRecoveryPoint", ["rds:DescribeDBSnapshots"], any_snapshot, why_wildcard=why_list_snapshots)
        # Recovery points a drill may restore: our backups and drill snapshots ("<prefix>-*"), and the
        # automated snapshots of the configured instances ("rds:<instance>-*"), in both regions.
        recovery_points = [self._rds_arn(r, "snapshot", f"{prefix}-*") for r in regions] + [
            self._rds_arn(r, "snapshot", f"rds:{i}-*") for r in regions for i in self.config.backup.db_instance_ids]
        g.add("RdsRestoreFromSnapshot", ["rds:RestoreDBInstanceFromDBSnapshot"],
              [*drill_instances, *recovery_points, *restore_dependencies],
              why_wildcard=(
                  "RestoreDBInstanceFromDBSnapshot authorizes on the new instance (only "
                  f"'{self.drill_instance_prefix}*'), the source snapshot (our backups '{prefix}-*' and the "
                  "configured instances' automated 'rds:<instance>-*', names generated per tick) and the "
                  "subnet/option/parameter group the copy inherits from its source."
              ))
        g.add("RdsRestoreToPointInTime", ["rds:RestoreDBInstanceToPointInTime"],
              [*source_dbs, drill_instances[0], *[a for a in restore_dependencies if f":{primary}:" in a]],
              why_wildcard=(
                  "RestoreDBInstanceToPointInTime authorizes on the configured source, the new instance (only "
                  f"'{self.drill_instance_prefix}*') and the subnet/option/parameter group it inherits."
              ))
        g.add("RdsTagDrillInstances", ["rds:AddTagsToResource"], drill_instances, why_wildcard=why_drill_names)
        g.add("RdsDescribeSubnetGroups", ["rds:DescribeDBSubnetGroups"],
              [a for a in restore_dependencies if ":subgrp:" in a],
              why_wildcard="The restored copy goes into its source's DB subnet group (or the DR one), read by name.")
        # Encrypted recovery points: RDS creates grants on the snapshot's key for the new instance.
        g.add("DrKeyForRestoresOfDrCopies", ["kms:DescribeKey"], [dr_keys], conditions=by_dr_alias,
              why_wildcard=why_dr_key)
        g.add("DrKeyGrantsForRds", ["kms:CreateGrant"], [dr_keys],
              conditions={**by_dr_alias, "Bool": {"kms:GrantIsForAWSResource": "true"}}, why_wildcard=why_dr_key)
        # Primary-region recovery points are encrypted with the source instance's own key, which is not
        # part of the configuration: RDS may use any key here, but only on RDS's behalf.
        source_keys = f"arn:{Aws.PARTITION}:kms:{primary}:{self.account}:key/*"
        via_rds = {"StringEquals": {"kms:ViaService": f"rds.{primary}.amazonaws.com"}}
        why_source_key = ("The source instance's storage key is not configured: key/* in the primary region, "
                          "usable only through RDS (kms:ViaService) and, for grants, only for AWS resources.")
        g.add("SourceKeyForRestores", ["kms:DescribeKey"], [source_keys], conditions=via_rds,
              why_wildcard=why_source_key)
        g.add("SourceKeyGrantsForRds", ["kms:CreateGrant"], [source_keys],
              conditions={**via_rds, "Bool": {"kms:GrantIsForAWSResource": "true"}}, why_wildcard=why_source_key)

        # poll: snapshot / instance status.
        g = grants["poll"]
        g.add("RdsSnapshotStatus", ["rds:DescribeDBSnapshots"], any_snapshot, why_wildcard=why_list_snapshots)
        g.add("RdsDrillInstanceStatus", ["rds:DescribeDBInstances"], drill_instances, why_wildcard=why_drill_names)

        # validate / measure: endpoint of the copy (and the source's, to refuse connecting to it),
        # database credentials, and (validate) the baseline row counts captured at backup time.
        for key in ("validate", "measure"):
            g = grants[key]
            g.add("RdsDescribeDrillAndSourceInstances", ["rds:DescribeDBInstances"], [*drill_instances, *source_dbs],
                  why_wildcard=why_drill_names)
            secret_arns = sorted(set(drill.db_secrets.values()))
            if secret_arns:
                g.add("ReadConfiguredDatabaseSecrets", ["secretsmanager:GetSecretValue"],
                      secret_policy_resources(secret_arns),
                      why_wildcard="A secret configured by partial ARN is matched with its random suffix "
                                   "'-??????' (exactly one configured secret each).")
                secret_regions = sorted({(a.split(":")[3], a.split(":")[4]) for a in secret_arns})
                g.add("DecryptSecretsViaSecretsManager", ["kms:Decrypt"],
                      [f"arn:{Aws.PARTITION}:kms:{r}:{acct}:key/*" for r, acct in secret_regions],
                      conditions={"StringEquals": {"kms:ViaService": [f"secretsmanager.{r}.amazonaws.com"
                                                                      for r, _ in secret_regions]}},
                      why_wildcard="The configured secrets' KMS keys are not part of the configuration: "
                                   "kms:Decrypt is limited to calls Secrets Manager makes for this role.")
        g = grants["validate"]
        g.add("ReadBaselines", ["s3:GetObject"], [self.bucket.arn_for_objects("baselines/*")],
              why_wildcard="Baselines are written per backup snapshot: baselines/<instance>/<snapshot>.json.",
              also_rendered_as=[cross_stack_arn_rendering(Stack.of(self.bucket), self.bucket, "/baselines/*")])
        # Without ListBucket a missing baseline is a 403 instead of a 404 ("baseline missing").
        g.add("ListBaselines", ["s3:ListBucket"], [self.bucket.bucket_arn],
              conditions={"StringLike": {"s3:prefix": ["baselines/*"]}})
        g.add("DecryptBaselines", ["kms:Decrypt"], [self.bucket_key.key_arn])

        # cleanup and sweeper: delete only drill resources, and only when tagged as such.
        for key in ("cleanup", "sweeper"):
            g = grants[key]
            if key == "sweeper":
                g.add("RdsListInstances", ["rds:DescribeDBInstances"], any_instance,
                      why_wildcard="The sweeper lists every DB instance in the primary and DR region to find "
                                   "expired drill instances (a list call cannot be scoped to a name prefix).")
                g.add("RdsListSnapshots", ["rds:DescribeDBSnapshots"], any_snapshot,
                      why_wildcard="The sweeper lists manual snapshots in the primary and DR region to find "
                                   "expired drill snapshots (a list call cannot be scoped to a name prefix).")
                g.add("RdsListDrillResourceTags", ["rds:ListTagsForResource"], [*drill_instances, *drill_snapshots],
                      why_wildcard=why_drill_names)
            else:
                g.add("RdsDescribeDrillInstances", ["rds:DescribeDBInstances"], drill_instances,
                      why_wildcard=why_drill_names)
                g.add("RdsDescribeDrillSnapshots", ["rds:DescribeDBSnapshots"], drill_snapshots,
                      why_wildcard=why_drill_names)
            # ModifyDBInstance only to switch off deletion protection a restored copy may carry.
            g.add("RdsDeleteOnlyTaggedDrillInstances", ["rds:DeleteDBInstance", "rds:ModifyDBInstance"],
                  drill_instances, conditions=delete_only_drill_resources, why_wildcard=why_drill_names)
            g.add("RdsDeleteOnlyTaggedDrillSnapshots", ["rds:DeleteDBSnapshot"], drill_snapshots,
                  conditions=delete_only_drill_resources, why_wildcard=why_drill_names)

        # report: S3 document, history item, SNS summary (EMF metrics go through the log group).
        g = grants["report"]
        g.add("WriteReports", ["s3:PutObject"], [self.bucket.arn_for_objects("drills/*")],
              why_wildcard="Reports are written per drill: drills/<YYYY>/<MM>/<drill id>.json.",
              also_rendered_as=[cross_stack_arn_rendering(Stack.of(self.bucket), self.bucket, "/drills/*")])
        g.add("EncryptReports", ["kms:GenerateDataKey"], [self.bucket_key.key_arn])
        g.add("RecordHistory", ["dynamodb:PutItem"], [self.history_table.table_arn])
        g.add("HistoryTableKey", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
              [self.key.key_arn],
              conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{primary}.amazonaws.com"}})
        g.add("PublishSummary", ["sns:Publish"], [self.topic.topic_arn])
        g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [self.topic_key.key_arn])

        for g in grants.values():
            g.suppress_wildcards()

    # ------------------------------------------------------------------------------------------
    def _task(self, construct_id: str, function_key: str, result_path: str,
              payload: sfn.TaskInput | None = None) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            construct_id,
            state_name=construct_id,
            lambda_function=self.functions[function_key],
            payload=payload,  # None: the whole state ($) is the payload
            payload_response_only=True,
            result_path=result_path,
            # The contract's own Retry (below) replaces CDK's default service-exception retry.
            retry_on_service_exceptions=False,
        )
        return task

    def _create_state_machine(self) -> sfn.StateMachine:
        def poll_payload(target: str) -> sfn.TaskInput:
            return sfn.TaskInput.from_object({"target": target, "drill": sfn.JsonPath.entire_payload})

        plan = self._task(STATE_PLAN, "plan", "$.plan")
        poll_snapshot = self._task(STATE_POLL_SNAPSHOT, "poll", "$.plan.wait", poll_payload("snapshot"))
        restore = self._task(STATE_RESTORE, "restore", "$.restore")
        poll_instance = self._task(STATE_POLL_INSTANCE, "poll", "$.restore.wait", poll_payload("instance"))
        validate = self._task(STATE_VALIDATE, "validate", "$.validation")
        measure = self._task(STATE_MEASURE, "measure", "$.performance")
        cleanup = self._task(STATE_CLEANUP, "cleanup", "$.cleanup")
        report = self._task(STATE_REPORT, "report", "$.report")

        succeeded = sfn.Succeed(self, STATE_SUCCEEDED, state_name=STATE_SUCCEEDED)
        failed = sfn.Fail(self, STATE_FAILED, state_name=STATE_FAILED, error="DrillFailed",
                          cause="restore drill failed; see report")

        wait_for_snapshot = sfn.Wait(self, STATE_WAIT_FOR_SNAPSHOT, state_name=STATE_WAIT_FOR_SNAPSHOT,
                                     time=sfn.WaitTime.seconds_path("$.plan.wait.next_wait_seconds"))
        wait_for_instance = sfn.Wait(self, STATE_WAIT_FOR_INSTANCE, state_name=STATE_WAIT_FOR_INSTANCE,
                                     time=sfn.WaitTime.seconds_path("$.restore.wait.next_wait_seconds"))
        recovery_point_ready = sfn.Choice(self, "RecoveryPointReady", state_name=STATE_RECOVERY_POINT_READY)
        instance_available = sfn.Choice(self, "InstanceAvailable", state_name=STATE_INSTANCE_AVAILABLE)
        drill_passed = sfn.Choice(self, "DrillPassed", state_name=STATE_DRILL_PASSED)

        # Anything that may have created a resource goes to Cleanup on any error.
        for task in (plan, poll_snapshot, restore, poll_instance, validate, measure):
            task.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(2),
                           backoff_rate=2)
            # The handlers' own transient errors (AWS throttling or unreachable after botocore's retries):
            # every task is safe to repeat (restore and fresh snapshots recognise their own resources).
            task.add_retry(errors=HANDLER_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(5),
                           backoff_rate=2)
            task.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
        cleanup.add_retry(errors=["States.ALL"], max_attempts=3, interval=Duration.seconds(5), backoff_rate=2)
        cleanup.add_catch(report, errors=["States.ALL"], result_path="$.cleanup_error")
        report.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(2),
                         backoff_rate=2)
        report.add_catch(failed, errors=["States.ALL"], result_path="$.report_error")

        plan.next(recovery_point_ready)
        recovery_point_ready.when(sfn.Condition.boolean_equals("$.plan.wait.ready", True), restore)
        recovery_point_ready.otherwise(wait_for_snapshot)
        wait_for_snapshot.next(poll_snapshot)
        poll_snapshot.next(recovery_point_ready)

        restore.next(instance_available)  # like the snapshot path: no wait when already available
        wait_for_instance.next(poll_instance)
        poll_instance.next(instance_available)
        instance_available.when(sfn.Condition.boolean_equals("$.restore.wait.ready", True), validate)
        instance_available.otherwise(wait_for_instance)

        validate.next(measure)
        measure.next(cleanup)
        cleanup.next(report)
        report.next(drill_passed)
        drill_passed.when(sfn.Condition.boolean_equals("$.report.passed", True), succeeded)
        drill_passed.otherwise(failed)

        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsForTheDrillLogGroup",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": (
                    f"arn:{Aws.PARTITION}:logs:{self.region}:{self.account}:log-group:"
                    f"/aws/vendedlogs/states/{self.state_machine_name}"
                )}},
            )
        )
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogGroup",
            # /aws/vendedlogs/ keeps the CloudWatch Logs resource policy small (AWS recommendation).
            log_group_name=f"/aws/vendedlogs/states/{self.state_machine_name}",
            encryption_key=self.key,
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )

        machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(plan),
            timeout=Duration.hours(DRILL_STATE_MACHINE_TIMEOUT_HOURS),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="ChurnGuard Ops restore drill: plan, restore, poll, validate, measure, ALWAYS clean up, report",
        )

        role_policy = machine.role.node.find_child("DefaultPolicy")
        suppress(
            role_policy, "IAM5",
            "Step Functions log delivery (logs:CreateLogDelivery & co.) and X-Ray (xray:PutTraceSegments & co.) "
            "support only Resource '*' (added by CDK for logging level ALL and tracing).",
            applies_to=["Resource::*"],
        )
        suppress(
            role_policy, "IAM5",
            "CDK grants lambda:InvokeFunction on '<function arn>:*' (versions/aliases) next to the unqualified "
            "ARN; only the drill task functions are covered.",
            applies_to=[
                resource_finding(self, f"{self.functions[k].function_arn}:*")
                for k in ("plan", "poll", "restore", "validate", "measure", "cleanup", "report")
            ],
        )
        return machine

    # ------------------------------------------------------------------------------------------
    def _alarm(self, construct_id: str, **kwargs: Any) -> cw.Alarm:
        alarm = ops_alarm(self, construct_id, self.topic, **kwargs)
        self.alarms.append(alarm)
        return alarm

    def _create_alarms(self) -> None:
        prefix = self.config.prefix
        # The scheduled drill names no source_instance: the functions drill the first configured one.
        scheduled_source = self.config.backup.db_instance_ids[0]
        self._alarm(
            "NoSuccessfulDrillAlarm",
            alarm_name=f"{prefix}-drill-no-success-{NO_SUCCESS_ALERT_DAYS}d",
            alarm_description=(
                f"No successful restore drill of {scheduled_source} in {NO_SUCCESS_ALERT_DAYS} days "
                f"(DrillSucceeded Sum < 1 in each of {NO_SUCCESS_EVALUATION_PERIODS} whole days; CloudWatch "
                "allows at most 7 days per alarm window). Missing data is breaching: a drill that never "
                "ran is a failed drill."
            ),
            metric=cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="DrillSucceeded",
                dimensions_map={"SourceDBInstance": scheduled_source, **EMF_SERVICE_DIMENSION},
                statistic="Sum",
                period=NO_SUCCESS_PERIOD,
            ),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=NO_SUCCESS_EVALUATION_PERIODS,
            datapoints_to_alarm=NO_SUCCESS_EVALUATION_PERIODS,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        five_minutes = Duration.minutes(5)
        self._alarm(
            "ExecutionsFailedAlarm",
            alarm_name=f"{prefix}-drill-executions-failed",
            alarm_description=f"A restore drill ({self.state_machine_name}) failed: see its report in S3/SNS.",
            metric=self.state_machine.metric_failed(period=five_minutes, statistic="Sum"),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self._alarm(
            "ExecutionsTimedOutAlarm",
            alarm_name=f"{prefix}-drill-executions-timed-out",
            alarm_description=(
                f"A restore drill ran into the {DRILL_STATE_MACHINE_TIMEOUT_HOURS} h state machine timeout: "
                "Cleanup did not run, the sweeper deletes its resources after they expire."
            ),
            metric=self.state_machine.metric_timed_out(period=five_minutes, statistic="Sum"),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        sweeper = self.functions["sweeper"]
        self._alarm(
            "SweeperErrorsAlarm",
            alarm_name=f"{prefix}-drill-sweeper-errors",
            alarm_description="The drill sweeper failed or could not delete an expired drill resource.",
            metric=sweeper.metric_errors(period=five_minutes, statistic="Sum"),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        for construct_id, name, queue, what in (
            ("SweeperDlqAlarm", "sweeper-dlq-not-empty", self.sweeper_dlq, "Sweeper runs"),
            ("ScheduleDlqAlarm", "schedule-dlq-not-empty", self.schedule_dlq, "Weekly drill starts"),
        ):
            self._alarm(
                construct_id,
                alarm_name=f"{prefix}-drill-{name}",
                alarm_description=f"{what} ended in the DLQ (EventBridge delivery or Lambda async failure).",
                metric=queue.metric_approximate_number_of_messages_visible(period=five_minutes, statistic="Maximum"),
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
