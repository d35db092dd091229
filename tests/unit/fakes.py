"""In-memory implementations of the backup ports, for unit tests."""
from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timezone

from churnguard_ops import MARKER_TAG, MARKER_VALUE
from churnguard_ops.backup.model import DbInstance, Snapshot
from churnguard_ops.errors import AlreadyExists, NotFound, OpsError, Throttled


def instance(instance_id: str, **overrides) -> DbInstance:
    values = dict(instance_id=instance_id, arn=f"arn:aws:rds:us-east-1:123456789012:db:{instance_id}",
                  status="available", storage_encrypted=True, multi_az=True, backup_retention_days=30,
                  deletion_protection=True, performance_insights=True, latest_restorable_time=None)
    values.update(overrides)
    return DbInstance(**values)


class FakeSnapshotStore:
    def __init__(self, region: str, instances: list[DbInstance] | None = None,
                 clock=lambda: datetime(2026, 11, 28, 10, 5, tzinfo=timezone.utc)) -> None:
        self.region = region
        self.instances = {i.instance_id: i for i in instances or []}
        self.snapshots: dict[str, Snapshot] = {}
        self.throttle_instances: set[str] = set()
        self.copy_status = "available"
        self.deleted: list[str] = []
        self.clock = clock

    def add(self, snapshot_id: str, source: str, *, ours: bool = True, status: str = "available",
            snapshot_type: str = "manual", created_at: datetime | None = None, **tags: str) -> Snapshot:
        all_tags = {MARKER_TAG: MARKER_VALUE, "SourceDBInstance": source, "Purpose": "DisasterRecovery"} if ours else {}
        all_tags.update(tags)
        snapshot = Snapshot(snapshot_id=snapshot_id, arn=f"arn:aws:rds:{self.region}:123456789012:snapshot:{snapshot_id}",
                            region=self.region, source_instance=source, created_at=created_at or self.clock(),
                            status=status, snapshot_type=snapshot_type, tags=all_tags)
        self.snapshots[snapshot_id] = snapshot
        return snapshot

    def describe_instance(self, instance_id: str) -> DbInstance:
        if instance_id in self.throttle_instances:
            raise Throttled(f"describe {instance_id}: Throttling: Rate exceeded")
        if instance_id not in self.instances:
            raise NotFound(f"describe {instance_id}: DBInstanceNotFound")
        return self.instances[instance_id]

    def list_snapshots(self, manual_only: bool = False) -> list[Snapshot]:
        return [s for s in self.snapshots.values() if not manual_only or s.snapshot_type == "manual"]

    def list_instance_snapshots(self, instance_id: str) -> list[Snapshot]:
        return [s for s in self.snapshots.values() if s.source_instance == instance_id]

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot:
        if snapshot_id in self.snapshots:
            raise AlreadyExists(snapshot_id)
        snapshot = Snapshot(snapshot_id=snapshot_id, arn=f"arn:aws:rds:{self.region}:123456789012:snapshot:{snapshot_id}",
                            region=self.region, source_instance=instance_id, created_at=self.clock(),
                            status="available", snapshot_type="manual", tags=dict(tags))
        self.snapshots[snapshot_id] = snapshot
        return snapshot

    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot:
        if source.snapshot_id in self.snapshots:
            raise AlreadyExists(source.snapshot_id)
        copy = replace(source, region=self.region, status=self.copy_status, tags=dict(tags),
                       arn=source.arn.replace(source.region, self.region))
        self.snapshots[copy.snapshot_id] = copy
        return copy

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        live = self.snapshots[snapshot.snapshot_id]
        if not live.ours:
            raise OpsError(f"refusing to delete foreign {snapshot.snapshot_id}")
        del self.snapshots[snapshot.snapshot_id]
        self.deleted.append(snapshot.snapshot_id)


class RecordingMetrics:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, str]]] = []

    def put(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
        self.points.append((name, value, dict(dimensions)))

    def value(self, name: str, **dimensions: str) -> float:
        matches = [v for n, v, d in self.points if n == name and all(d.get(k) == x for k, x in dimensions.items())]
        assert matches, f"no datapoint {name} {dimensions}; have {[(n, d) for n, _, d in self.points]}"
        return matches[-1]


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
    """Stands in for KMS: the ciphertext must not contain the plaintext, yet can be checked."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        return base64.b64encode(bytes(b ^ 0x5A for b in plaintext.encode())).decode()

    @staticmethod
    def decrypt(ciphertext: str) -> str:
        return bytes(b ^ 0x5A for b in base64.b64decode(ciphertext)).decode()


class MemoryObjects:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.regions: dict[str, str | None] = {}

    def put_json(self, bucket: str, key: str, body: bytes, region: str | None = None) -> str:
        self.objects[(bucket, key)] = body
        self.regions[bucket] = region
        return "v1"


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
