"""AWS adapters for configuration export (SSM, KMS, S3) and application-data bucket protection."""
from __future__ import annotations

import base64
from typing import Any

from churnguard_ops.backup.ports import Ciphertext
from churnguard_ops.core import aws
from churnguard_ops.core.contracts import APP_DATA_RETENTION_RULE_ID as RETENTION_RULE_ID
from churnguard_ops.core.errors import OpsError, raise_translated
from churnguard_ops.core.errors import guarded as _guarded


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
    """KMS Encrypt under one key (ARN, id or alias) in one region (None: the home region)."""

    def __init__(self, key_id: str | None, region: str | None = None, *, setting: str = "BACKUP_KMS_KEY_ARN") -> None:
        self.key_id = key_id
        self.region = region
        self.setting = setting  # named in the error when no key is configured

    def encrypt(self, plaintext: str, context: dict[str, str]) -> Ciphertext:
        if not self.key_id:
            raise OpsError(f"{self.setting} is required to export SecureString parameters")
        where = f" in {self.region}" if self.region else ""
        result = _guarded(f"encrypt SecureString under {self.key_id}{where}", aws.client("kms", self.region).encrypt,
                          KeyId=self.key_id, Plaintext=plaintext.encode(), EncryptionContext=context)
        return Ciphertext(blob=base64.b64encode(result["CiphertextBlob"]).decode(), key=result["KeyId"])


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
