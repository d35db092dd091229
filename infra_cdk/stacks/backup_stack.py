"""Backups, primary region: the scheduled backup Lambda and everything around it.

One EventBridge rule per backup policy invokes ``churnguard-ops-backup`` with a Scheduled Event
whose ``detail.policy`` names the policy. The function snapshots the configured RDS instances,
copies them to the DR region, prunes what it created, and exports configuration; alarms on its
EMF metrics (namespace ``ChurnGuardOps``) notify the ops SNS topic.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from infra_cdk.constructs.vpc_access import place_in_vpc, warn_without_vpc
from infra_cdk.constructs.alarms import ops_alarm
from infra_cdk.constructs import AccessLogBucket, OpsFunction, encrypted_bucket
from infra_cdk.layer import SharedLayer
from infra_cdk.nag import resource_finding, suppress
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext, secret_policy_resources
from infra_cdk.stacks.backup_dr_stack import dr_bucket_name

METRICS_NAMESPACE = "ChurnGuardOps"
BACKUP_FUNCTION_SUFFIX = "backup"
BACKUP_SERVICE_NAME = "backup"  # POWERTOOLS_SERVICE_NAME of the function
# Powertools adds ``service=<POWERTOOLS_SERVICE_NAME>`` to every EMF metric it writes (also via
# single_metric), so the published dimension sets are e.g. {DBInstanceIdentifier, service}.
# CloudWatch alarms match dimension sets exactly, hence the extra dimension below.
EMF_SERVICE_DIMENSION = {"service": BACKUP_SERVICE_NAME}
# CloudWatch: EvaluationPeriods * Period may not exceed one day.
_MAX_ALARM_WINDOW_MINUTES = 1440


def scheduled_tick_input(policy: str) -> events.RuleTargetInput:
    """The Scheduled Event as EventBridge delivers it, with ``detail`` set to the policy."""
    return events.RuleTargetInput.from_object(
        {
            "version": events.EventField.from_path("$.version"),
            "id": events.EventField.event_id,
            "detail-type": events.EventField.detail_type,
            "source": events.EventField.source,
            "account": events.EventField.account,
            "time": events.EventField.time,
            "region": events.EventField.region,
            "resources": events.EventField.from_path("$.resources"),
            "detail": {"policy": policy},
        }
    )


class BackupStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        backup = config.backup
        prefix = config.prefix
        self.function_name = f"{prefix}-{BACKUP_FUNCTION_SUFFIX}"
        self.dr_bucket_name = dr_bucket_name(prefix, Aws.ACCOUNT_ID, backup.dr_region)

        # --- keys, storage, notifications -------------------------------------------------
        self.backup_key = kms.Key(
            self,
            "BackupKey",
            alias=f"alias/{prefix}-backup",
            enable_key_rotation=True,
            description=f"{prefix}: backup bucket and exported SecureString values",
        )
        notifications_key = kms.Key(
            self,
            "NotificationsKey",
            alias=f"alias/{prefix}-notifications",
            enable_key_rotation=True,
            description=f"{prefix}: ops SNS topic",
        )
        # CloudWatch alarms publish to the encrypted topic; SNS uses the key on their behalf.
        notifications_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )

        access_logs = AccessLogBucket(self, "AccessLogBucket")
        lifecycle = [
            s3.LifecycleRule(
                id=f"expire-{name.replace('_', '-')}-exports",
                prefix=f"{name}/",
                expiration=Duration.days(policy.retention_days),
            )
            for name, policy in backup.policies.items()
        ]
        lifecycle.append(
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        )
        self.bucket = encrypted_bucket(
            self,
            "BackupBucket",
            encryption_key=self.backup_key,
            access_logs=access_logs,
            access_logs_prefix="backup-bucket/",
            lifecycle_rules=lifecycle,
        )

        self.topic = sns.Topic(
            self,
            "OpsTopic",
            topic_name=f"{prefix}-ops",
            display_name="ChurnGuard Ops",
            master_key=notifications_key,
            enforce_ssl=True,
        )
        for email in config.notification_emails:
            self.topic.add_subscription(subs.EmailSubscription(email))

        # --- the backup function ------------------------------------------------------------
        layer = SharedLayer(self, "OpsLayer", layer_name=f"{prefix}-shared")
        self.layer = layer.layer
        environment = {
            **backup.lambda_environment(),
            "BACKUP_BUCKET": self.bucket.bucket_name,
            "BACKUP_KMS_KEY_ARN": self.backup_key.key_arn,
            "BACKUP_DR_BUCKET": self.dr_bucket_name,
            # Credentials of the instances whose row counts are recorded per snapshot (drill baselines).
            "BACKUP_DB_SECRETS": json.dumps(config.drill.db_secrets, sort_keys=True),
        }
        self.backup_fn = OpsFunction(
            self,
            "BackupFunction",
            function_name=self.function_name,
            code_dir=FUNCTIONS_DIR / "backup",
            handler="app.handler",
            description="Scheduled backups: RDS snapshots + DR copies + pruning, config/app-data exports",
            service_name=BACKUP_SERVICE_NAME,
            layers=[self.layer],
            environment=environment,
            timeout=Duration.minutes(5),
            memory_size=512,
            # Ticks of different policies must not race on pruning / the snapshot quota.
            reserved_concurrent_executions=1,
            metrics_namespace=METRICS_NAMESPACE,
        )
        if config.drill.db_secrets:  # the row-count baseline opens a SQL connection to each source
            if config.drill.vpc is not None:
                place_in_vpc(self, "BackupFunction", self.backup_fn, config.drill.vpc)
            else:
                warn_without_vpc(self, "Backups (row-count baselines)")
        self.function = self.backup_fn.function
        assert self.backup_fn.dlq is not None
        self.dlq = self.backup_fn.dlq
        self._grant_backup_permissions()

        # --- schedules ----------------------------------------------------------------------
        self.rules: dict[str, events.Rule] = {}
        for name, policy in backup.policies.items():
            rule = events.Rule(
                self,
                f"Schedule-{name}",
                rule_name=f"{prefix}-backup-{name.replace('_', '-')}",
                description=f"Backup tick for policy '{name}' every {policy.schedule_minutes} min",
                schedule=events.Schedule.rate(Duration.minutes(policy.schedule_minutes)),
            )
            rule.add_target(
                targets.LambdaFunction(
                    self.function,
                    event=scheduled_tick_input(name),
                    dead_letter_queue=self.dlq,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                )
            )
            self.rules[name] = rule

        # --- alarms + dashboard -------------------------------------------------------------
        self.alarms: list[cw.Alarm] = []
        self._create_alarms()
        self._create_dashboard()

        CfnOutput(self, "BackupFunctionName", value=self.function.function_name, description="Backup Lambda")
        CfnOutput(self, "BackupBucketName", value=self.bucket.bucket_name, description="Primary backup bucket")
        CfnOutput(self, "OpsTopicArn", value=self.topic.topic_arn, description="Ops notifications (alarms)")
        CfnOutput(self, "BackupDlqUrl", value=self.dlq.queue_url, description="Failed backup ticks")

    # ------------------------------------------------------------------------------------------
    def _rds_arn(self, region: str, resource_type: str, name: str) -> str:
        return f"arn:{Aws.PARTITION}:rds:{region}:{self.account}:{resource_type}:{name}"

    def _grant_backup_permissions(self) -> None:
        backup = self.config.backup
        prefix = self.config.prefix
        role = self.backup_fn.role
        regions = [self.region, backup.dr_region]

        db_arns = [self._rds_arn(self.region, "db", i) for i in backup.db_instance_ids]
        # Our snapshots (and their DR copies) are named "<prefix>-..." -- nothing else is touched.
        snapshot_arns = [self._rds_arn(r, "snapshot", f"{prefix}-*") for r in regions]
        primary_snapshots, dr_snapshots = snapshot_arns

        statements = [
            iam.PolicyStatement(
                sid="RdsDescribeConfiguredInstances",
                actions=["rds:DescribeDBInstances"],
                resources=db_arns,
            ),
            iam.PolicyStatement(
                sid="RdsSnapshotConfiguredInstances",
                actions=["rds:CreateDBSnapshot"],
                resources=[*db_arns, primary_snapshots],
            ),
            iam.PolicyStatement(
                sid="RdsCopyAndTagOwnSnapshots",
                actions=["rds:CopyDBSnapshot", "rds:AddTagsToResource", "rds:ListTagsForResource"],
                resources=[primary_snapshots, dr_snapshots],
            ),
            iam.PolicyStatement(
                sid="RdsListInstanceTags",
                actions=["rds:ListTagsForResource"],
                resources=db_arns,
            ),
            iam.PolicyStatement(
                sid="RdsDeleteOnlySnapshotsWeCreated",
                actions=["rds:DeleteDBSnapshot"],
                resources=[primary_snapshots, dr_snapshots],
                conditions={"StringEquals": {"rds:snapshot-tag/CreatedBy": prefix}},
            ),
        ]

        # DR CMK: addressed by alias only (it lives in another stack/region).
        dr_keys = f"arn:{Aws.PARTITION}:kms:{backup.dr_region}:{self.account}:key/*"
        by_alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [backup.dr_kms_key_alias]}}
        statements += [
            iam.PolicyStatement(
                sid="DrKeyUseViaAlias",
                actions=["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                resources=[dr_keys],
                conditions=by_alias,
            ),
            iam.PolicyStatement(
                sid="DrKeyGrantsForRdsCopies",
                actions=["kms:CreateGrant"],
                resources=[dr_keys],
                conditions={**by_alias, "Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
            iam.PolicyStatement(
                sid="BackupKeyUse",
                actions=["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                resources=[self.backup_key.key_arn],
            ),
        ]
        # Copying an encrypted snapshot reads it with the source instance's own key, which is not part of
        # the configuration: any key in the primary region, but only through RDS and only for grants
        # to AWS resources.
        source_keys = f"arn:{Aws.PARTITION}:kms:{self.region}:{self.account}:key/*"
        via_rds = {"StringEquals": {"kms:ViaService": f"rds.{self.region}.amazonaws.com"}}
        statements += [
            iam.PolicyStatement(sid="SourceKeyForCopies", actions=["kms:DescribeKey"], resources=[source_keys],
                                conditions=via_rds),
            iam.PolicyStatement(sid="SourceKeyGrantsForCopies", actions=["kms:CreateGrant"], resources=[source_keys],
                                conditions={**via_rds, "Bool": {"kms:GrantIsForAWSResource": "true"}}),
        ]

        # SSM: the configured paths (GetParametersByPath authorizes on the path itself).
        ssm_arns: list[str] = []
        for path in backup.ssm_paths:
            base = f"arn:{Aws.PARTITION}:ssm:{self.region}:{self.account}:parameter{path.rstrip('/')}"
            ssm_arns += [base, f"{base}/*"]
        statements.append(
            iam.PolicyStatement(
                sid="SsmReadConfiguredPaths",
                actions=["ssm:GetParametersByPath", "ssm:GetParameter", "ssm:GetParameters"],
                resources=ssm_arns,
            )
        )
        # SecureStrings under a customer-managed key: decrypt through SSM, for the configured paths only.
        statements.append(
            iam.PolicyStatement(
                sid="DecryptSecureStringsViaSsm",
                actions=["kms:Decrypt"],
                resources=[source_keys],
                conditions={
                    "StringEquals": {"kms:ViaService": f"ssm.{self.region}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": [a for a in ssm_arns if a.endswith("/*")]},
                },
            )
        )

        # S3: write exports to the backup + DR buckets; manage versioning/lifecycle/replication
        # of the configured application-data buckets (bucket-level ARNs only).
        dr_bucket_arn = f"arn:{Aws.PARTITION}:s3:::{self.dr_bucket_name}"
        # Only what backups write: configuration exports (both buckets) and row-count baselines; never
        # drills/ reports, which belong to the drill functions.
        export_objects = [self.bucket.arn_for_objects("configuration/*"), self.bucket.arn_for_objects("baselines/*"),
                          f"{dr_bucket_arn}/configuration/*"]
        statements.append(
            iam.PolicyStatement(
                sid="S3WriteExports",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=export_objects,
            )
        )
        if backup.app_data_buckets:
            statements.append(
                iam.PolicyStatement(
                    sid="S3ProtectAppDataBuckets",
                    actions=[
                        "s3:GetBucketVersioning", "s3:PutBucketVersioning",
                        "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
                        "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration",
                    ],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{b}" for b in backup.app_data_buckets],
                )
            )

        secret_arns = sorted(set(self.config.drill.db_secrets.values()))
        if secret_arns:  # row-count baselines: read the source's credentials, keep counts per snapshot
            statements += [
                iam.PolicyStatement(
                    sid="ReadConfiguredDatabaseSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=secret_policy_resources(secret_arns),
                ),
                iam.PolicyStatement(
                    sid="DecryptSecretsViaSecretsManager",
                    actions=["kms:Decrypt"],
                    resources=[f"arn:{Aws.PARTITION}:kms:{self.region}:{self.account}:key/*"],
                    conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="S3ReadBaselines",
                    actions=["s3:GetObject"],
                    resources=[self.bucket.arn_for_objects("baselines/*")],
                ),
                iam.PolicyStatement(  # without it a missing baseline is a 403, not "not yet recorded"
                    sid="S3ListBaselines",
                    actions=["s3:ListBucket"],
                    resources=[self.bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["baselines/*"]}},
                ),
            ]

        for statement in statements:
            role.add_to_principal_policy(statement)

        # Kept in its own policy so its Resource '*' carries its own suppression reason.
        list_snapshots = iam.Policy(
            self,
            "RdsListSnapshotsPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="RdsListSnapshots",
                    actions=["rds:DescribeDBSnapshots"],
                    resources=["*"],
                )
            ],
        )
        suppress(
            list_snapshots, "IAM5",
            "rds:DescribeDBSnapshots lists snapshots account-wide: the function counts every manual "
            "snapshot per region (primary and DR) against the manual-snapshot quota and finds its "
            "own copies by tag, so the call cannot be scoped to our name prefix.",
            applies_to=["Resource::*"],
        )

        policy = role.node.find_child("DefaultPolicy")
        suppress(
            policy, "IAM5",
            "RDS snapshot ARNs are limited to our own name prefix '" + prefix + "-*' in the primary "
            "and DR region (snapshot names are generated per tick); DeleteDBSnapshot is additionally "
            "conditioned on the CreatedBy tag.",
            applies_to=[resource_finding(self, a) for a in snapshot_arns],
        )
        suppress(
            policy, "IAM5",
            "The DR CMK lives in another region/stack and is addressed by alias only: key/* is "
            "narrowed to that one key by the kms:ResourceAliases condition.",
            applies_to=[resource_finding(self, dr_keys)],
        )
        suppress(
            policy, "IAM5",
            "Parameters below each configured SSM path (the path tree is the unit of configuration).",
            applies_to=[resource_finding(self, a) for a in ssm_arns if a.endswith("/*")],
        )
        suppress(
            policy, "IAM5",
            "Object keys are generated per tick: configuration/ssm/<date>/<slot>.json in the backup and DR "
            "buckets, baselines/<instance>/<snapshot>.json (written, and read back for idempotency).",
            applies_to=[resource_finding(self, a) for a in export_objects],
        )
        suppress(
            policy, "IAM5",
            "Keys of the source databases, SecureString parameters and secrets are not part of the "
            "configuration: key/* in the primary region is usable only through RDS, SSM (for the configured "
            "parameter paths) or Secrets Manager, each pinned by kms:ViaService.",
            applies_to=[resource_finding(self, f"arn:{Aws.PARTITION}:kms:{self.region}:{self.account}:key/*")],
        )


    # ------------------------------------------------------------------------------------------
    def _metric(self, name: str, dimensions: dict[str, str], statistic: str, period_minutes: int) -> cw.Metric:
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={**dimensions, **EMF_SERVICE_DIMENSION},
            statistic=statistic,
            period=Duration.minutes(period_minutes),
        )

    def _alarm(self, construct_id: str, **kwargs: Any) -> cw.Alarm:
        alarm = ops_alarm(self, construct_id, self.topic, **kwargs)
        self.alarms.append(alarm)
        return alarm

    def _create_alarms(self) -> None:
        backup = self.config.backup
        prefix = self.config.prefix
        database = backup.policies["database"]
        # One database tick per period; 2 of 2 periods so a tick landing just past a period
        # boundary (an empty period followed by a fresh snapshot) does not page anybody, while a
        # missed tick (empty period + a stale age in the next) does.
        age_period = min(database.schedule_minutes, _MAX_ALARM_WINDOW_MINUTES // 2)
        for db in backup.db_instance_ids:
            dims = {"DBInstanceIdentifier": db}
            self._alarm(
                f"SnapshotAgeAlarm-{db}",
                alarm_name=f"{prefix}-backup-snapshot-age-{db}",
                alarm_description=(
                    f"Newest snapshot of {db} is older than one database schedule "
                    f"({database.schedule_minutes} min) + RPO ({backup.rpo_minutes} min). Missing data "
                    "is breaching: a tick that never ran is a missed backup."
                ),
                metric=self._metric("SnapshotAgeSeconds", dims, "Maximum", age_period),
                threshold=(database.schedule_minutes + backup.rpo_minutes) * 60,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                treat_missing_data=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"RestorableLagAlarm-{db}",
                alarm_name=f"{prefix}-backup-restorable-lag-{db}",
                alarm_description=f"Latest restorable time of {db} lags more than the RPO ({backup.rpo_minutes} min).",
                metric=self._metric("RestorableLagSeconds", dims, "Maximum", age_period),
                threshold=backup.rpo_minutes * 60,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                # Missed ticks are the snapshot-age alarm's job.
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        for region in [self.region, backup.dr_region]:
            self._alarm(
                f"SnapshotQuotaAlarm-{region}",
                alarm_name=f"{prefix}-backup-snapshot-quota-{region}",
                alarm_description=f"Manual DB snapshots in {region} use >= 90% of the quota ({backup.manual_snapshot_quota}).",
                metric=self._metric("ManualSnapshotQuotaUsedRatio", {"Region": region}, "Maximum", age_period),
                threshold=0.9,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        for name, policy in backup.policies.items():
            self._alarm(
                f"TargetsFailedAlarm-{name}",
                alarm_name=f"{prefix}-backup-targets-failed-{name.replace('_', '-')}",
                alarm_description=f"At least one target of backup policy '{name}' failed.",
                metric=self._metric("BackupTargetsFailed", {"Policy": name}, "Sum",
                                    min(policy.schedule_minutes, 60)),
                threshold=0,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        self._alarm(
            "DlqAlarm",
            alarm_name=f"{prefix}-backup-dlq-not-empty",
            alarm_description="Backup ticks ended in the DLQ (EventBridge delivery or Lambda async failure).",
            metric=self.dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self._alarm(
            "ErrorsAlarm",
            alarm_name=f"{prefix}-backup-errors",
            alarm_description=f"{self.function_name} raised an error.",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _create_dashboard(self) -> None:
        backup = self.config.backup
        period = Duration.hours(1)

        def metrics(name: str, key: str, values: list[str], stat: str) -> list[cw.IMetric]:
            return [
                cw.Metric(namespace=METRICS_NAMESPACE, metric_name=name,
                          dimensions_map={key: v, **EMF_SERVICE_DIMENSION},
                          statistic=stat, period=period, label=v)
                for v in values
            ]

        regions = [self.region, backup.dr_region]
        policies = list(backup.policies)
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self.config.prefix}-backups",
            default_interval=Duration.days(7),
        )
        self.dashboard.add_widgets(
            cw.TextWidget(markdown="# ChurnGuard Ops backups", width=24, height=1),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Snapshot age (s)", width=12,
                left=metrics("SnapshotAgeSeconds", "DBInstanceIdentifier", backup.db_instance_ids, "Maximum"),
            ),
            cw.GraphWidget(
                title="Restorable lag (s)", width=12,
                left=metrics("RestorableLagSeconds", "DBInstanceIdentifier", backup.db_instance_ids, "Maximum"),
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Backup targets per policy", width=12,
                left=metrics("BackupTargetsSucceeded", "Policy", policies, "Sum"),
                right=metrics("BackupTargetsFailed", "Policy", policies, "Sum"),
            ),
            cw.GraphWidget(
                title="Manual snapshot quota used", width=12,
                left=metrics("ManualSnapshotQuotaUsedRatio", "Region", regions, "Maximum"),
                left_y_axis=cw.YAxisProps(min=0, max=1),
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Backup function", width=12,
                left=[self.function.metric_invocations(period=period), self.function.metric_errors(period=period)],
                right=[self.function.metric_duration(period=period, statistic="Maximum")],
            ),
            cw.AlarmStatusWidget(title="Backup alarms", width=12, alarms=list(self.alarms)),
        )
