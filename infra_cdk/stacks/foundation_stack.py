"""What every capability shares, primary region: the library layer, the ops topic, the ops CMK and bucket.

Capability stacks receive it as one ``Foundation`` (``self.foundation``) and reach these resources
through same-region cross-stack references (``Fn::GetStackOutput`` with the app's weak references).

- ``OpsLayer``: the ``churnguard_ops`` library every function runs on (``<prefix>-shared``).
- ``OpsTopic`` (``<prefix>-ops``), encrypted with ``NotificationsKey``: every alarm notifies it.
- ``BackupKey`` (``alias/<prefix>-backup``, the name deployed functions know it by): the ops CMK for
  the bucket and exported SecureString values.
- ``BackupBucket``: configuration exports, row-count baselines and drill reports, expiring each
  policy's exports after its retention; server access logs go to ``AccessLogBucket``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from infra_cdk.constructs import AccessLogBucket, Foundation, encrypted_bucket
from infra_cdk.layer import SharedLayer
from infra_cdk.settings import ChurnGuardContext


class FoundationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix

        # Construct ids are the ones these resources had in the backup stack (same logical ids).
        key = kms.Key(
            self,
            "BackupKey",
            alias=f"alias/{prefix}-backup",
            enable_key_rotation=True,
            description=f"{prefix}: backup bucket and exported SecureString values",
        )
        topic_key = kms.Key(
            self,
            "NotificationsKey",
            alias=f"alias/{prefix}-notifications",
            enable_key_rotation=True,
            description=f"{prefix}: ops SNS topic",
        )
        # CloudWatch alarms publish to the encrypted topic; SNS uses the key on their behalf.
        topic_key.add_to_resource_policy(
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
            for name, policy in config.backup.policies.items()
        ]
        lifecycle.append(
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        )
        bucket = encrypted_bucket(
            self,
            "BackupBucket",
            encryption_key=key,
            access_logs=access_logs,
            access_logs_prefix="backup-bucket/",
            lifecycle_rules=lifecycle,
        )

        # S3 events of the bucket go to EventBridge (build reports uploaded under vulns/build/ reach the ledger).
        # Set on the resource itself: CDK's event_bridge_enabled would add a custom-resource Lambda for it.
        bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)

        topic = sns.Topic(
            self,
            "OpsTopic",
            topic_name=f"{prefix}-ops",
            display_name="ChurnGuard Ops",
            master_key=topic_key,
            enforce_ssl=True,
        )
        for email in config.notification_emails:
            topic.add_subscription(subs.EmailSubscription(email))

        layer = SharedLayer(self, "OpsLayer", layer_name=f"{prefix}-shared")

        self.foundation = Foundation(layer=layer.layer, topic=topic, topic_key=topic_key, key=key, bucket=bucket)

        CfnOutput(self, "BackupBucketName", value=bucket.bucket_name,
                  description="Primary backup bucket")
        CfnOutput(self, "OpsTopicArn", value=topic.topic_arn, description="Ops notifications (alarms)")
