"""Buckets that pass AwsSolutions by construction: KMS (or SSE-S3 for log targets), TLS only,
no public access, versioned, server access logs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

_ACCESS_LOG_RETENTION = Duration.days(365)


class AccessLogBucket(s3.Bucket):
    """Target for S3 server access logs (SSE-S3: log delivery cannot write with SSE-KMS)."""

    def __init__(self, scope: Construct, construct_id: str, *, retention: Duration = _ACCESS_LOG_RETENTION) -> None:
        super().__init__(
            scope,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=retention,
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # No AwsSolutions-S1 suppression needed: cdk-nag treats a bucket that receives server
        # access logs in the same stack as compliant.


def encrypted_bucket(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey,
    access_logs: s3.IBucket,
    access_logs_prefix: str,
    lifecycle_rules: Sequence[s3.LifecycleRule] = (),
    bucket_name: str | None = None,
) -> s3.Bucket:
    """KMS-encrypted (bucket key on), versioned, TLS-only, private bucket with access logs."""
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=encryption_key,
        bucket_key_enabled=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=RemovalPolicy.RETAIN,
    )
