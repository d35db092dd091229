"""What the backup flows need, beyond the shared ports of :mod:`churnguard_ops.core.ports`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from churnguard_ops.core.rds_model import DbInstance, Snapshot


class SnapshotStore(Protocol):
    """The part of RDS (one region) backups use; :class:`core.rds.RdsGateway` implements it."""

    region: str

    def instance(self, instance_id: str) -> DbInstance: ...

    def snapshots(self, instance_id: str | None = None, *, manual_only: bool = True) -> list[Snapshot]:
        """Snapshots with tags (of one instance if given); automated ones too unless manual_only."""
        ...

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot:
        """Raises AlreadyExists when the id is taken."""
        ...

    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot:
        """Copy a snapshot from another region into this one (same id). Raises AlreadyExists."""
        ...

    def tag_snapshot(self, snapshot: Snapshot, tags: dict[str, str]) -> None:
        """Add or overwrite these tags, keeping the others."""
        ...

    def delete_snapshot(self, snapshot_id: str, *, required_tags: dict[str, str]) -> None:
        """Delete a manual snapshot whose live tags include ``required_tags``; refuse anything else."""
        ...


class ParameterSource(Protocol):
    def parameters_under(self, path: str) -> list[dict]:
        """Decrypted parameters: dicts with Name, Type, Value, Version, LastModifiedDate."""
        ...


@dataclass(frozen=True)
class Ciphertext:
    """One encrypted value: base64 ``blob``, and the ``key`` (ARN) that encrypted it, as KMS reports it."""

    blob: str
    key: str


class Encryptor(Protocol):
    """Encrypts under one key in one region: only holders of that key, there, can read the result."""

    #: The configured key (ARN, id or alias), None when none is configured; ``region`` None: the home region.
    key_id: str | None
    region: str | None

    def encrypt(self, plaintext: str, context: dict[str, str]) -> Ciphertext:
        """Raises OpsError when the key is missing or unusable."""
        ...


class BucketGuard(Protocol):
    def protect(self, bucket: str, noncurrent_days: int) -> list[str]:
        """Ensure versioning and a noncurrent-version expiry rule; returns what it changed."""
        ...

    def replication_rules(self, bucket: str) -> list[dict]: ...


class BaselineRecorder(Protocol):
    """Row counts of a source at snapshot time, stored where restore drills read them."""

    def configured(self, instance_id: str) -> bool: ...

    def record(self, instance_id: str, snapshot_id: str) -> str:
        """Returns where the baseline was stored."""
        ...
