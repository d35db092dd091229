"""DR-region side of backups: the CMK that cross-region snapshot copies and config exports are
encrypted with (``alias/churnguard-ops-dr``) and the DR bucket.

Both have deterministic names so the primary stack can address them without cross-region
references: the key by alias, the bucket as ``<prefix>-dr-<account>-<dr region>``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.constructs import AccessLogBucket, encrypted_bucket
from infra_cdk.settings import ChurnGuardContext


def dr_bucket_name(prefix: str, account: str, dr_region: str) -> str:
    """``<prefix>-dr-<account>-<dr_region>`` (``account`` may be the AWS::AccountId token)."""
    return f"{prefix}-dr-{account}-{dr_region}"


class BackupDrStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        backup = config.backup
        prefix = config.prefix

        self.key = kms.Key(
            self,
            "DrKey",
            alias=backup.dr_kms_key_alias,
            enable_key_rotation=True,
            description=f"{prefix}: cross-region snapshot copies and DR config exports",
        )

        access_logs = AccessLogBucket(self, "AccessLogBucket")
        configuration = backup.policies["configuration"]
        self.bucket = encrypted_bucket(
            self,
            "DrBucket",
            bucket_name=dr_bucket_name(prefix, Aws.ACCOUNT_ID, backup.dr_region),
            encryption_key=self.key,
            access_logs=access_logs,
            access_logs_prefix="dr-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-configuration-exports",
                    prefix="configuration/",
                    expiration=Duration.days(configuration.retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
        )

        CfnOutput(self, "DrBucketName", value=self.bucket.bucket_name, description="DR copy of configuration exports")
        CfnOutput(self, "DrKeyArn", value=self.key.key_arn, description=f"CMK {backup.dr_kms_key_alias}")
