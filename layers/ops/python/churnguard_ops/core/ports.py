"""The small interfaces every capability may depend on. Adapters (this package) and fakes
(:mod:`churnguard_ops.core.fakes`) implement them; capabilities declare narrower Protocols of
their own where they need only part of one (see ``backup.ports.SnapshotStore``)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from churnguard_ops.core.rds_model import DbInstance, Snapshot


class MetricsSink(Protocol):
    def put(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None: ...


class Documents(Protocol):
    """JSON documents under keys of one bucket."""

    def load(self, key: str) -> dict[str, Any] | None:
        """None when there is no such document."""
        ...

    def save(self, key: str, document: dict[str, Any]) -> str:
        """Returns the document's location (``s3://bucket/key``)."""
        ...

    def location(self, key: str) -> str: ...


class ObjectWriter(Protocol):
    def put_json(self, bucket: str, key: str, body: bytes, region: str | None = None) -> str:
        """Store bytes in any of our buckets; returns the version id ('' when unversioned)."""
        ...


class Credentials(Protocol):
    def get(self, secret_id: str) -> dict[str, Any]:
        """The secret's JSON (username, password, ...). Never logged."""
        ...


class Notifier(Protocol):
    def publish(self, subject: str, message: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class Records(Protocol):
    """Items of one table (history, state)."""

    def record(self, item: dict[str, Any]) -> None: ...


class RdsRegion(Protocol):
    """RDS in one region. Capabilities depend on the subset they use (their own narrower Protocol)."""

    region: str

    def instance(self, instance_id: str) -> DbInstance: ...
    def instances(self) -> list[DbInstance]: ...
    def snapshot(self, snapshot_id: str) -> Snapshot: ...
    def snapshots(self, instance_id: str | None = None, *, manual_only: bool = True) -> list[Snapshot]: ...
    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot: ...
    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot: ...
    def restore_snapshot(self, snapshot: Snapshot, instance_id: str, instance_class: str,
                         subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> DbInstance: ...
    def restore_point_in_time(self, source_instance: str, instance_id: str, restore_time: datetime | None,
                              instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                              tags: dict[str, str]) -> DbInstance: ...
    def delete_snapshot(self, snapshot_id: str, *, required_tags: dict[str, str]) -> None: ...
    def delete_instance(self, instance_id: str, *, required_tags: dict[str, str]) -> None: ...
