"""AWS adapters for configuration export (SSM, KMS, S3) and application-data bucket protection."""
from __future__ import annotations

import base64
from typing import Any

from churnguard_ops import aws
from churnguard_ops.errors import guarded as _guarded
from churnguard_ops.errors import OpsError, raise_translated

RETENTION_RULE_ID = "churnguard-ops-noncurrent-retention"


class SsmParameterSource:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def parameters_under(self, path: str) -> list[dict]:
        ssm = aws.client("ssm", self.region)
        try:
            pages = ssm.get_paginator("get_parameters_by_path").paginate(
                Path=path, Recursive=True, WithDecryption=True)
            return [p for page in pages for p in page["Parameters"]]
        except Exception as exc:
            raise_translated(exc, f"read SSM parameters under {path}")


class KmsEncryptor:
    def __init__(self, key_id: str | None, region: str | None = None) -> None:
        self.key_id = key_id
        self.region = region

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        if not self.key_id:
            raise OpsError("BACKUP_KMS_KEY_ARN is required to export SecureString parameters")
        blob = _guarded("encrypt SecureString", aws.client("kms", self.region).encrypt,
                        KeyId=self.key_id, Plaintext=plaintext.encode(), EncryptionContext=context)
        return base64.b64encode(blob["CiphertextBlob"]).decode()


class S3ObjectStore:
    def __init__(self, kms_key_arn: str | None, default_region: str | None = None) -> None:
        self.kms_key_arn = kms_key_arn
        self.default_region = default_region

    def put_json(self, bucket: str, key: str, body: bytes, region: str | None = None) -> str:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body, "ContentType": "application/json"}
        if region is None and self.kms_key_arn:
            kwargs.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_arn)
        # Elsewhere (the DR bucket) no header: the bucket's default CMK applies, not aws/s3.
        result = _guarded(f"put s3://{bucket}/{key}", aws.client("s3", region or self.default_region).put_object,
                          **kwargs)
        return result.get("VersionId", "")


class S3BucketGuard:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    @property
    def _s3(self) -> Any:
        return aws.client("s3", self.region)

    def protect(self, bucket: str, noncurrent_days: int) -> list[str]:
        changed: list[str] = []
        versioning = _guarded(f"read versioning of {bucket}", self._s3.get_bucket_versioning, Bucket=bucket)
        if versioning.get("Status") != "Enabled":
            _guarded(f"enable versioning on {bucket}", self._s3.put_bucket_versioning, Bucket=bucket,
                     VersioningConfiguration={"Status": "Enabled"})
            changed.append("versioning")
        rules = self._lifecycle_rules(bucket)
        ours = {"ID": RETENTION_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days}}
        current = next((r for r in rules if r.get("ID") == RETENTION_RULE_ID), None)
        if current is None or current.get("NoncurrentVersionExpiration") != ours["NoncurrentVersionExpiration"] \
                or current.get("Status") != "Enabled":
            # Keep the bucket owner's other rules; only our rule is added or replaced.
            others = [r for r in rules if r.get("ID") != RETENTION_RULE_ID]
            _guarded(f"set lifecycle on {bucket}", self._s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                     LifecycleConfiguration={"Rules": [*others, ours]})
            changed.append("lifecycle")
        return changed

    def _lifecycle_rules(self, bucket: str) -> list[dict]:
        try:
            return self._s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
                return []
            raise_translated(exc, f"read lifecycle of {bucket}")

    def replication_rules(self, bucket: str) -> list[dict]:
        try:
            config = self._s3.get_bucket_replication(Bucket=bucket)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
                return []
            raise_translated(exc, f"read replication of {bucket}")
        return [r for r in config.get("ReplicationConfiguration", {}).get("Rules", []) if r.get("Status") == "Enabled"]
