"""In-memory implementations of the core ports, for unit tests and offline runs.

Each is typed against its Protocol (mypy checks the assignments at the bottom), so a fake cannot
drift from the port it stands in for.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from churnguard_ops.core import ports
from churnguard_ops.core.errors import AlreadyExists, NotFound, RefusedDeletion
from churnguard_ops.core.rds_model import DbInstance, Snapshot, proves_ownership


class RecordingMetrics:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, str]]] = []

    def put(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
        self.points.append((name, value, dict(dimensions)))

    def value(self, name: str, **dimensions: str) -> float:
        matches = [v for n, v, d in self.points if n == name and all(d.get(k) == x for k, x in dimensions.items())]
        assert matches, f"no datapoint {name} {dimensions}; have {[(n, d) for n, _, d in self.points]}"
        return matches[-1]


class MemoryDocuments:
    def __init__(self, bucket: str = "ops-bucket") -> None:
        self.bucket = bucket
        self.documents: dict[str, dict[str, Any]] = {}

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def load(self, key: str) -> dict[str, Any] | None:
        document = self.documents.get(key)
        return json.loads(json.dumps(document)) if document is not None else None

    def save(self, key: str, document: dict[str, Any]) -> str:
        self.documents[key] = json.loads(json.dumps(document, default=str))
        return self.location(key)


class MemoryObjects:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.regions: dict[str, str | None] = {}

    def put_json(self, bucket: str, key: str, body: bytes, region: str | None = None) -> str:
        self.objects[(bucket, key)] = body
        self.regions[bucket] = region
        return "v1"


class StaticCredentials:
    def __init__(self, secrets: dict[str, dict[str, Any]]) -> None:
        self.secrets = secrets

    def get(self, secret_id: str) -> dict[str, Any]:
        if secret_id not in self.secrets:
            raise NotFound(f"read secret {secret_id}: ResourceNotFoundException")
        return dict(self.secrets[secret_id])


class RecordingNotifier:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def publish(self, subject: str, message: str) -> None:
        self.messages.append((subject, message))


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, json.loads(json.dumps(detail, default=str))))


class MemoryRecords:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def record(self, item: dict[str, Any]) -> None:
        self.items.append(dict(item))


class MemoryRds:
    """One region of RDS: instances and snapshots in dicts, with the adapter's guarded deletes."""

    def __init__(self, region: str = "us-east-1",
                 clock: Callable[[], datetime] = lambda: datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc),
                 new_snapshot_status: str = "available") -> None:
        self.region = region
        self.clock = clock
        self.new_snapshot_status = new_snapshot_status
        self.copy_status = "available"
        self.restore_status = "creating"
        self.instances_by_id: dict[str, DbInstance] = {}
        self.snapshots_by_id: dict[str, Snapshot] = {}
        self.restore_calls: list[dict[str, Any]] = []
        self.deleted_instances: list[str] = []
        self.deleted_snapshots: list[str] = []
        self.unprotected: list[str] = []  # instances whose deletion protection a delete switched off

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:rds:{self.region}:123456789012:{kind}:{name}"

    def add_instance(self, instance: DbInstance) -> DbInstance:
        self.instances_by_id[instance.instance_id] = instance
        return instance

    def put_snapshot(self, snapshot: Snapshot) -> Snapshot:
        self.snapshots_by_id[snapshot.snapshot_id] = replace(snapshot, region=snapshot.region or self.region)
        return self.snapshots_by_id[snapshot.snapshot_id]

    def set_status(self, instance_id: str, status: str) -> None:
        self.instances_by_id[instance_id] = replace(self.instances_by_id[instance_id], status=status)

    # -- the port -----------------------------------------------------------------------------
    def instance(self, instance_id: str) -> DbInstance:
        if instance_id not in self.instances_by_id:
            raise NotFound(f"describe {instance_id}: DBInstanceNotFound")
        return self.instances_by_id[instance_id]

    def instances(self) -> list[DbInstance]:
        return list(self.instances_by_id.values())

    def snapshot(self, snapshot_id: str) -> Snapshot:
        if snapshot_id not in self.snapshots_by_id:
            raise NotFound(f"describe snapshot {snapshot_id}: DBSnapshotNotFound")
        return self.snapshots_by_id[snapshot_id]

    def snapshots(self, instance_id: str | None = None, *, manual_only: bool = True) -> list[Snapshot]:
        return [s for s in self.snapshots_by_id.values()
                if (not instance_id or s.source_instance == instance_id)
                and (not manual_only or s.snapshot_type == "manual")]

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot:
        if snapshot_id in self.snapshots_by_id:
            raise AlreadyExists(snapshot_id)
        return self.put_snapshot(Snapshot(snapshot_id=snapshot_id, arn=self._arn("snapshot", snapshot_id),
                                          source_instance=instance_id, status=self.new_snapshot_status,
                                          created_at=self.clock(), region=self.region, encrypted=True,
                                          tags=dict(tags)))

    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot:
        if source.snapshot_id in self.snapshots_by_id:
            raise AlreadyExists(source.snapshot_id)
        return self.put_snapshot(replace(source, region=self.region, status=self.copy_status, tags=dict(tags),
                                         arn=source.arn.replace(source.region, self.region), created_at=self.clock(),
                                         original_created_at=source.recovery_point_time))

    def tag_snapshot(self, snapshot: Snapshot, tags: dict[str, str]) -> None:
        live = self.snapshot(snapshot.snapshot_id)
        self.snapshots_by_id[live.snapshot_id] = replace(live, tags={**live.tags, **tags})

    def _restored(self, instance_id: str, tags: dict[str, str], **call: Any) -> DbInstance:
        if instance_id in self.instances_by_id:
            raise AlreadyExists(instance_id)
        self.restore_calls.append({"instance_id": instance_id, **call})
        return self.add_instance(DbInstance(
            instance_id=instance_id, status=self.restore_status, arn=self._arn("db", instance_id),
            db_name="churnguard", subnet_group=call.get("subnet_group"),
            security_group_ids=list(call.get("security_group_ids") or []), storage_encrypted=True,
            tags=dict(tags)))

    def restore_snapshot(self, snapshot: Snapshot, instance_id: str, instance_class: str,
                         subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> DbInstance:
        return self._restored(instance_id, tags, snapshot_id=snapshot.snapshot_id, instance_class=instance_class,
                              subnet_group=subnet_group, security_group_ids=security_group_ids)

    def restore_point_in_time(self, source_instance: str, instance_id: str, restore_time: datetime | None,
                              instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                              tags: dict[str, str]) -> DbInstance:
        return self._restored(instance_id, tags, source=source_instance, restore_time=restore_time,
                              instance_class=instance_class, subnet_group=subnet_group,
                              security_group_ids=security_group_ids)

    def delete_snapshot(self, snapshot_id: str, *, required_tags: dict[str, str]) -> None:
        live = self.snapshot(snapshot_id)
        if live.snapshot_type != "manual" or not proves_ownership(live.tags, required_tags):
            raise RefusedDeletion(f"refusing to delete {snapshot_id}: not tagged {required_tags}")
        del self.snapshots_by_id[snapshot_id]
        self.deleted_snapshots.append(snapshot_id)

    def delete_instance(self, instance_id: str, *, required_tags: dict[str, str]) -> None:
        live = self.instance(instance_id)
        if not proves_ownership(live.tags, required_tags):
            raise RefusedDeletion(f"refusing to delete instance {instance_id}: not tagged {required_tags}")
        if live.deletion_protection:
            self.unprotected.append(instance_id)
        del self.instances_by_id[instance_id]
        self.deleted_instances.append(instance_id)


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    _metrics: ports.MetricsSink = RecordingMetrics()
    _documents: ports.Documents = MemoryDocuments()
    _objects: ports.ObjectWriter = MemoryObjects()
    _credentials: ports.Credentials = StaticCredentials({})
    _notifier: ports.Notifier = RecordingNotifier()
    _events: ports.EventPublisher = RecordingEvents()
    _records: ports.Records = MemoryRecords()
    _rds: ports.RdsRegion = MemoryRds()
