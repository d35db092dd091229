"""What the drill needs from RDS, one region at a time."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class InstanceView:
    instance_id: str
    status: str
    address: str | None
    port: int | None
    db_name: str | None
    subnet_group: str | None
    security_group_ids: list[str]
    encrypted: bool
    latest_restorable_time: datetime | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotView:
    snapshot_id: str
    arn: str
    source_instance: str
    status: str
    created_at: datetime | None
    encrypted: bool
    tags: dict[str, str] = field(default_factory=dict)


class DrillRds(Protocol):
    region: str

    def instance(self, instance_id: str) -> InstanceView: ...
    def instances(self) -> list[InstanceView]: ...
    def snapshot(self, snapshot_id: str) -> SnapshotView: ...
    def snapshots(self, instance_id: str | None = None) -> list[SnapshotView]: ...
    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> SnapshotView: ...
    def restore_snapshot(self, snapshot: SnapshotView, instance_id: str, instance_class: str,
                         subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> InstanceView: ...
    def restore_point_in_time(self, source_instance: str, instance_id: str, restore_time: datetime | None,
                              instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                              tags: dict[str, str]) -> InstanceView: ...
    def delete_instance(self, instance_id: str) -> None: ...
    def delete_snapshot(self, snapshot_id: str) -> None: ...
