"""backup_tampering: something that quietly destroys the backups (keys, protected buckets, our snapshots)."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, ClassVar

from pydantic import Field, field_validator

from churnguard_ops.core.contracts import NAME_PREFIX, SNAPSHOT_PREFIX
from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector

_KMS = frozenset({"DisableKey", "ScheduleKeyDeletion"})
_BUCKET = frozenset({"PutBucketVersioning", "DeleteBucketReplication", "DeleteBucketEncryption"})
_SNAPSHOT = frozenset({"DeleteDBSnapshot", "DeleteDBClusterSnapshot"})


class BackupTamperingParams(PluginParams):
    protected_buckets: frozenset[str] = Field(
        default=frozenset(),
        description="buckets whose versioning, replication and encryption are backups' lifeline: names or globs")
    backup_role_arn_patterns: tuple[str, ...] = Field(
        default=(f"arn:aws:iam::*:role/{NAME_PREFIX}-backup*",),
        description="role ARNs (globs, path included) allowed to delete our snapshots: backup retention, the drill")
    snapshot_prefix: str = Field(default=SNAPSHOT_PREFIX, min_length=1, description="our snapshots are <prefix>...")

    @field_validator("backup_role_arn_patterns")
    @classmethod
    def _role_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [pattern for pattern in value if not pattern.startswith("arn:") or ":role/" not in pattern]
        if bad:
            raise ValueError(f"not IAM role ARN patterns (arn:aws:iam::<account>:role/<name>): {bad}")
        return value

    def is_protected_bucket(self, bucket: Any) -> bool:
        return bool(bucket) and any(fnmatchcase(str(bucket), pattern) for pattern in self.protected_buckets)


def role_arn(event: Event) -> str | None:
    """The role ARN of an assumed-role caller (its session issuer), else None."""
    identity = fields.identity(event)
    if identity.get("type") != "AssumedRole":
        return None
    issuer = identity.get("sessionIssuerArn")
    return str(issuer) if issuer else None


def snapshot_name(identifier: Any) -> str:
    """``arn:aws:rds:<region>:<account>:snapshot:<name>`` or ``<name>`` -> ``<name>``."""
    text = str(identifier or "")
    return text.rsplit(":", 1)[-1] if text.startswith("arn:") else text


@DETECTORS.register
class BackupTampering(CloudTrailDetector):
    """Something that quietly destroys the backups: a key, a protected bucket, our snapshots (CloudTrail). Critical.

    A KMS key disabled or scheduled for deletion; versioning suspended, replication or default encryption removed
    on a protected bucket; one of our snapshots deleted by anyone but our backup role.

    Rule: KMS ``DisableKey`` / ``ScheduleKeyDeletion`` on any key (the snapshots and buckets are encrypted with
    keys we cannot tell apart from a record); S3 ``PutBucketVersioning`` with ``Status`` ``Suspended``,
    ``DeleteBucketReplication``, ``DeleteBucketEncryption`` on a bucket in ``protected_buckets``; RDS
    ``DeleteDBSnapshot`` / ``DeleteDBClusterSnapshot`` of an identifier starting with ``snapshot_prefix`` unless
    the caller is an assumed role whose role ARN matches ``backup_role_arn_patterns``. Decided: the drill's and
    retention's roles must be listed there too, or their routine deletes alert; a service acting for a user
    (``invokedBy``) is judged as that user.

    Entity: the key id, bucket or snapshot name; context: ``resource``, ``reason``.

    Example::

        {"detector": "backup_tampering",
         "params": {"protected_buckets": ["churnguard-ops-backups-*", "churnguard-prod-data"],
                    "backup_role_arn_patterns": ["arn:aws:iam::*:role/churnguard-ops-backup*",
                                                 "arn:aws:iam::*:role/churnguard-ops-drill*"],
                    "snapshot_prefix": "churnguard-ops-"}}
    """

    name = "backup_tampering"
    Params: ClassVar[type[PluginParams]] = BackupTamperingParams
    severity = "critical"
    recommended_action = ("Undo it now (EnableKey / CancelKeyDeletion, re-enable versioning, replication or "
                          "encryption; for a deleted snapshot, take a fresh backup and check the DR copies), then "
                          "revoke the actor's credentials.")
    event_names = _KMS | _BUCKET | _SNAPSHOT
    event_sources = frozenset({"kms.amazonaws.com", "s3.amazonaws.com", "rds.amazonaws.com"})

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, BackupTamperingParams)
        self.p = self.params

    def predicate(self, event: Event) -> Finding | None:
        params = fields.request(event)
        source = fields.source(event)
        resource: str | None = None
        reason: str | None = None
        if source == "kms.amazonaws.com" and event.type in _KMS:
            arns = [r.get("ARN") for r in fields.as_list(event.details.get("resources")) if isinstance(r, dict)]
            resource = str(params.get("keyId") or next((arn for arn in arns if arn), "unknown-key"))
            reason = "key disabled" if event.type == "DisableKey" else (
                f"key scheduled for deletion in {params.get('pendingWindowInDays', 30)} days")
        elif source == "s3.amazonaws.com" and event.type in _BUCKET:
            bucket = params.get("bucketName")
            if not self.p.is_protected_bucket(bucket):
                return None
            resource = str(bucket)
            if event.type == "PutBucketVersioning":
                versioning = params.get("VersioningConfiguration")
                status = versioning.get("Status") if isinstance(versioning, dict) else None
                reason = "versioning suspended" if status in ("Suspended", "Disabled") else None
            else:
                reason = ("replication removed" if event.type == "DeleteBucketReplication"
                          else "default encryption removed")
        elif source == "rds.amazonaws.com" and event.type in _SNAPSHOT:
            name = snapshot_name(params.get("dBSnapshotIdentifier") or params.get("dBClusterSnapshotIdentifier"))
            if not name.startswith(self.p.snapshot_prefix):
                return None
            role = role_arn(event)
            if role and any(fnmatchcase(role, pattern) for pattern in self.p.backup_role_arn_patterns):
                return None
            resource = name
            reason = f"our snapshot deleted by {event.user_id or 'an unknown principal'}, not the backup role"
        if resource is None or reason is None:
            return None
        return self.finding(event, resource, resource=resource, reason=reason)
