"""In-memory DrillRds for unit tests."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from churnguard_ops.drill.ports import InstanceView, SnapshotView
from churnguard_ops.errors import AlreadyExists, NotFound

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def source_instance(instance_id: str = "churnguard-prod") -> InstanceView:
    return InstanceView(instance_id=instance_id, status="available", address=f"{instance_id}.rds.example",
                        port=5432, db_name="churnguard", subnet_group="prod-db-subnets",
                        security_group_ids=["sg-prod-db"], encrypted=True,
                        latest_restorable_time=T0, tags={})


class FakeDrillRds:
    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.instances_by_id: dict[str, InstanceView] = {}
        self.snapshots_by_id: dict[str, SnapshotView] = {}
        self.restore_calls: list[dict] = []
        self.deleted_instances: list[str] = []
        self.deleted_snapshots: list[str] = []
        self.restore_status = "creating"

    def add_instance(self, instance: InstanceView) -> None:
        self.instances_by_id[instance.instance_id] = instance

    def add_snapshot(self, snapshot_id: str, source: str, created_at: datetime, ours: bool = True,
                     status: str = "available", **tags: str) -> SnapshotView:
        all_tags = {"CreatedBy": "churnguard-ops", "SourceDBInstance": source} if ours else {}
        all_tags.update(tags)
        snapshot = SnapshotView(snapshot_id=snapshot_id, arn=f"arn:aws:rds:{self.region}:1:snapshot:{snapshot_id}",
                                source_instance=source, status=status, created_at=created_at, encrypted=True,
                                tags=all_tags)
        self.snapshots_by_id[snapshot_id] = snapshot
        return snapshot

    def instance(self, instance_id: str) -> InstanceView:
        if instance_id not in self.instances_by_id:
            raise NotFound(instance_id)
        return self.instances_by_id[instance_id]

    def instances(self) -> list[InstanceView]:
        return list(self.instances_by_id.values())

    def snapshot(self, snapshot_id: str) -> SnapshotView:
        if snapshot_id not in self.snapshots_by_id:
            raise NotFound(snapshot_id)
        return self.snapshots_by_id[snapshot_id]

    def snapshots(self, instance_id: str | None = None) -> list[SnapshotView]:
        return [s for s in self.snapshots_by_id.values() if instance_id in (None, s.source_instance)]

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> SnapshotView:
        if snapshot_id in self.snapshots_by_id:
            raise AlreadyExists(snapshot_id)
        snapshot = SnapshotView(snapshot_id=snapshot_id, arn=f"arn:aws:rds:{self.region}:1:snapshot:{snapshot_id}",
                                source_instance=instance_id, status="creating", created_at=T0, encrypted=True,
                                tags=dict(tags))
        self.snapshots_by_id[snapshot_id] = snapshot
        return snapshot

    def _restored(self, instance_id: str, tags: dict[str, str], **call) -> InstanceView:
        if instance_id in self.instances_by_id:
            raise AlreadyExists(instance_id)
        self.restore_calls.append({"instance_id": instance_id, **call})
        instance = InstanceView(instance_id=instance_id, status=self.restore_status, address=None, port=None,
                                db_name="churnguard", subnet_group=call.get("subnet_group"),
                                security_group_ids=call.get("security_group_ids", []), encrypted=True,
                                latest_restorable_time=None, tags=dict(tags))
        self.instances_by_id[instance_id] = instance
        return instance

    def restore_snapshot(self, snapshot, instance_id, instance_class, subnet_group, security_group_ids, tags):
        return self._restored(instance_id, tags, snapshot_id=snapshot.snapshot_id, instance_class=instance_class,
                              subnet_group=subnet_group, security_group_ids=security_group_ids)

    def restore_point_in_time(self, source_instance, instance_id, restore_time, instance_class, subnet_group,
                              security_group_ids, tags):
        return self._restored(instance_id, tags, source=source_instance, restore_time=restore_time,
                              instance_class=instance_class, subnet_group=subnet_group,
                              security_group_ids=security_group_ids)

    def set_status(self, instance_id: str, status: str) -> None:
        self.instances_by_id[instance_id] = replace(self.instances_by_id[instance_id], status=status)

    def delete_instance(self, instance_id: str) -> None:
        del self.instances_by_id[instance_id]
        self.deleted_instances.append(instance_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        del self.snapshots_by_id[snapshot_id]
        self.deleted_snapshots.append(snapshot_id)
