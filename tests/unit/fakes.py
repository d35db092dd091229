"""In-memory backup ports for unit tests, built on the shared fakes of ``churnguard_ops.core.fakes``."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from churnguard_ops.backup.ports import Ciphertext
from churnguard_ops.core import contracts
from churnguard_ops.core.errors import Throttled
from churnguard_ops.core.fakes import MemoryObjects, MemoryRds, RecordingMetrics
from churnguard_ops.core.rds_model import DbInstance, Snapshot
from churnguard_ops.core.snapshot_names import backup_snapshot_id

__all__ = ["FakeParameters", "FakeSnapshotStore", "MemoryBuckets", "MemoryObjects", "RecordingMetrics",
           "ReversibleEncryptor", "instance"]


def instance(instance_id: str, **overrides: Any) -> DbInstance:
    values: dict[str, Any] = dict(instance_id=instance_id, arn=f"arn:aws:rds:us-east-1:123456789012:db:{instance_id}",
                  status="available", storage_encrypted=True, multi_az=True, backup_retention_days=30,
                  deletion_protection=True, performance_insights=True, latest_restorable_time=None)
    values.update(overrides)
    return DbInstance(**values)


class FakeSnapshotStore(MemoryRds):
    """RDS of one region, plus throttling per instance."""

    def __init__(self, region: str, instances: list[DbInstance] | None = None,
                 clock=lambda: datetime(2026, 11, 28, 10, 5, tzinfo=timezone.utc)) -> None:
        super().__init__(region, clock=clock)
        for db in instances or []:
            self.add_instance(db)
        self.throttle_instances: set[str] = set()

    def add(self, snapshot_id: str, source: str, *, ours: bool = True, status: str = "available",
            snapshot_type: str = "manual", created_at: datetime | None = None, **tags: str) -> Snapshot:
        all_tags = ({contracts.MARKER_TAG: contracts.MARKER_VALUE, contracts.SOURCE_INSTANCE_TAG: source,
                     contracts.PURPOSE_TAG: contracts.PURPOSE_BACKUP} if ours else {})
        all_tags.update(tags)
        return self.put_snapshot(Snapshot(
            snapshot_id=snapshot_id, arn=f"arn:aws:rds:{self.region}:123456789012:snapshot:{snapshot_id}",
            region=self.region, source_instance=source, created_at=created_at or self.clock(), status=status,
            snapshot_type=snapshot_type, tags=all_tags))

    def add_backup(self, source: str, slot: datetime, *, policy: str = "database", on_demand: bool = False,
                   **kwargs: Any) -> Snapshot:
        """One of our backups, named exactly as backups name it from its tags."""
        tags: dict[str, Any] = {contracts.POLICY_TAG: policy, contracts.SLOT_TAG: slot.isoformat(),
                                **({contracts.ON_DEMAND_TAG: "true"} if on_demand else {})}
        tags.update(kwargs)  # status=, created_at=, snapshot_type= are add()'s options; the rest are tags
        return self.add(backup_snapshot_id(source, policy, slot, on_demand=on_demand), source, **tags)

    def instance(self, instance_id: str) -> DbInstance:
        if instance_id in self.throttle_instances:
            raise Throttled(f"describe {instance_id}: Throttling: Rate exceeded")
        return super().instance(instance_id)


class FakeParameters:
    def __init__(self, parameters: dict[str, tuple[str, str]]) -> None:
        self.parameters = parameters  # name -> (type, value)
        self.failing_paths: set[str] = set()

    def parameters_under(self, path: str) -> list[dict]:
        if path in self.failing_paths:
            raise Throttled(f"read SSM parameters under {path}: ThrottlingException")
        return [{"Name": n, "Type": t, "Value": v, "Version": 1, "LastModifiedDate": "2026-11-01T00:00:00+00:00"}
                for n, (t, v) in sorted(self.parameters.items()) if n.startswith(path)]


class ReversibleEncryptor:
    """Stands in for KMS: the ciphertext must not contain the plaintext, yet can be checked, and only with
    the key (and encryption context) that produced it, like KMS."""

    def __init__(self, key_id: str = "arn:aws:kms:us-east-1:123456789012:key/backup",
                 region: str | None = "us-east-1") -> None:
        self.key_id: str | None = key_id
        self.region = region

    def encrypt(self, plaintext: str, context: dict[str, str]) -> Ciphertext:
        sealed = json.dumps({"key": self.key_id, "context": context,
                             "data": base64.b64encode(bytes(b ^ 0x5A for b in plaintext.encode())).decode()})
        return Ciphertext(blob=base64.b64encode(sealed.encode()).decode(), key=str(self.key_id))

    @staticmethod
    def decrypt(ciphertext: str, key_id: str = "arn:aws:kms:us-east-1:123456789012:key/backup",
                context: dict[str, str] | None = None) -> str:
        sealed = json.loads(base64.b64decode(ciphertext))
        assert sealed["key"] == key_id, f"encrypted under {sealed['key']}, not {key_id}"
        assert context is None or sealed["context"] == context, sealed["context"]
        return bytes(b ^ 0x5A for b in base64.b64decode(sealed["data"])).decode()


class MemoryBuckets:
    def __init__(self, replicated: set[str] | None = None) -> None:
        self.protected: dict[str, int] = {}
        self.replicated = replicated or set()

    def protect(self, bucket: str, noncurrent_days: int) -> list[str]:
        changed = [] if self.protected.get(bucket) == noncurrent_days else ["versioning", "lifecycle"]
        self.protected[bucket] = noncurrent_days
        return changed

    def replication_rules(self, bucket: str) -> list[dict]:
        return [{"ID": "crr", "Status": "Enabled"}] if bucket in self.replicated else []


if TYPE_CHECKING:  # mypy proves each fake satisfies the backup port it stands in for
    from churnguard_ops.backup import ports

    _store: ports.SnapshotStore = FakeSnapshotStore("us-east-1")
    _parameters: ports.ParameterSource = FakeParameters({})
    _encryptor: ports.Encryptor = ReversibleEncryptor()
    _buckets: ports.BucketGuard = MemoryBuckets()
