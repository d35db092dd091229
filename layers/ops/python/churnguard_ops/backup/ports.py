"""The small interfaces the backup service depends on. AWS adapters and test fakes implement them."""
from __future__ import annotations

from typing import Protocol

from churnguard_ops.backup.model import DbInstance, Snapshot


class SnapshotStore(Protocol):
    """RDS snapshots of one region."""

    region: str

    def describe_instance(self, instance_id: str) -> DbInstance: ...

    def list_snapshots(self, manual_only: bool = False) -> list[Snapshot]:
        """Every snapshot in the region (automated too unless manual_only), with tags."""
        ...

    def list_instance_snapshots(self, instance_id: str) -> list[Snapshot]: ...

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot:
        """Raises AlreadyExists when the id is taken."""
        ...

    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot:
        """Copy a snapshot from another region into this one (same id). Raises AlreadyExists."""
        ...

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        """Delete one of *our* snapshots; adapters refuse anything else."""
        ...


class MetricsSink(Protocol):
    def put(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None: ...


class ParameterSource(Protocol):
    def parameters_under(self, path: str) -> list[dict]:
        """Decrypted parameters: dicts with Name, Type, Value, Version, LastModifiedDate."""
        ...


class Encryptor(Protocol):
    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        """Base64 ciphertext; only the key holder can read it."""
        ...


class ObjectStore(Protocol):
    def put_json(self, bucket: str, key: str, body: bytes, region: str | None = None) -> str:
        """Store bytes; returns the object's version id (or '' when unversioned)."""
        ...


class BucketGuard(Protocol):
    def protect(self, bucket: str, noncurrent_days: int) -> list[str]:
        """Ensure versioning and a noncurrent-version expiry rule; returns what it changed."""
        ...

    def replication_rules(self, bucket: str) -> list[dict]: ...


class BaselineRecorder(Protocol):
    """Row counts of the source at snapshot time, for restore drills to compare against."""

    def configured(self, instance_id: str) -> bool: ...

    def record(self, instance_id: str, snapshot_id: str) -> str:
        """Returns where the baseline was stored."""
        ...
