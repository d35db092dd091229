"""RDS adapter for the drill (one region)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from churnguard_ops import aws
from churnguard_ops.drill.ports import InstanceView, SnapshotView
from churnguard_ops.errors import OpsError, raise_translated


def _tags(raw: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _instance(raw: dict) -> InstanceView:
    endpoint = raw.get("Endpoint") or {}
    return InstanceView(
        instance_id=raw["DBInstanceIdentifier"], status=raw.get("DBInstanceStatus", "unknown"),
        address=endpoint.get("Address"), port=endpoint.get("Port"), db_name=raw.get("DBName"),
        subnet_group=(raw.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        security_group_ids=[g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", [])],
        encrypted=bool(raw.get("StorageEncrypted")), latest_restorable_time=raw.get("LatestRestorableTime"),
        tags=_tags(raw.get("TagList")))


def _snapshot(raw: dict) -> SnapshotView:
    tags = _tags(raw.get("TagList"))
    return SnapshotView(
        snapshot_id=raw["DBSnapshotIdentifier"], arn=raw["DBSnapshotArn"],
        source_instance=tags.get("SourceDBInstance") or raw.get("DBInstanceIdentifier", ""),
        status=raw.get("Status", "unknown"), created_at=raw.get("SnapshotCreateTime"),
        encrypted=bool(raw.get("Encrypted")), tags=tags)


class RdsDrillGateway:
    def __init__(self, region: str) -> None:
        self.region = region

    def _call(self, what: str, operation: str, **kwargs: Any) -> dict:
        try:
            return getattr(aws.client("rds", self.region), operation)(**kwargs)
        except Exception as exc:
            raise_translated(exc, what)

    def _pages(self, what: str, operation: str, key: str, **kwargs: Any) -> list[dict]:
        try:
            pages = aws.client("rds", self.region).get_paginator(operation).paginate(**kwargs)
            return [item for page in pages for item in page[key]]
        except Exception as exc:
            raise_translated(exc, what)

    def instance(self, instance_id: str) -> InstanceView:
        raw = self._call(f"describe {instance_id}", "describe_db_instances", DBInstanceIdentifier=instance_id)
        return _instance(raw["DBInstances"][0])

    def instances(self) -> list[InstanceView]:
        return [_instance(r) for r in self._pages(f"list instances in {self.region}", "describe_db_instances",
                                                  "DBInstances")]

    def snapshot(self, snapshot_id: str) -> SnapshotView:
        raw = self._call(f"describe snapshot {snapshot_id}", "describe_db_snapshots", DBSnapshotIdentifier=snapshot_id)
        return _snapshot(raw["DBSnapshots"][0])

    def snapshots(self, instance_id: str | None = None) -> list[SnapshotView]:
        filters: dict[str, Any] = {"SnapshotType": "manual"}
        if instance_id:
            filters["DBInstanceIdentifier"] = instance_id
        return [_snapshot(r) for r in self._pages(f"list snapshots in {self.region}", "describe_db_snapshots",
                                                  "DBSnapshots", **filters)]

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> SnapshotView:
        raw = self._call(f"snapshot {instance_id}", "create_db_snapshot", DBInstanceIdentifier=instance_id,
                         DBSnapshotIdentifier=snapshot_id, Tags=_tag_list(tags))["DBSnapshot"]
        raw.setdefault("TagList", _tag_list(tags))
        return _snapshot(raw)

    def _restore_options(self, instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> dict[str, Any]:
        options: dict[str, Any] = {
            "DBInstanceClass": instance_class, "MultiAZ": False, "PubliclyAccessible": False,
            "DeletionProtection": False, "AutoMinorVersionUpgrade": False, "CopyTagsToSnapshot": False,
            "Tags": _tag_list(tags)}
        if subnet_group:
            options["DBSubnetGroupName"] = subnet_group
        if security_group_ids:
            options["VpcSecurityGroupIds"] = security_group_ids
        return options

    def restore_snapshot(self, snapshot: SnapshotView, instance_id: str, instance_class: str,
                         subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> InstanceView:
        raw = self._call(f"restore {snapshot.snapshot_id} as {instance_id}", "restore_db_instance_from_db_snapshot",
                         DBInstanceIdentifier=instance_id, DBSnapshotIdentifier=snapshot.snapshot_id,
                         **self._restore_options(instance_class, subnet_group, security_group_ids, tags))
        return _instance(raw["DBInstance"])

    def restore_point_in_time(self, source_instance: str, instance_id: str, restore_time: datetime | None,
                              instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                              tags: dict[str, str]) -> InstanceView:
        when: dict[str, Any] = {"RestoreTime": restore_time} if restore_time else {"UseLatestRestorableTime": True}
        raw = self._call(f"restore {source_instance} to a point in time as {instance_id}",
                         "restore_db_instance_to_point_in_time", SourceDBInstanceIdentifier=source_instance,
                         TargetDBInstanceIdentifier=instance_id, **when,
                         **self._restore_options(instance_class, subnet_group, security_group_ids, tags))
        return _instance(raw["DBInstance"])

    def delete_instance(self, instance_id: str) -> None:
        """Callers guard first (drill tags). A restored instance can inherit deletion protection from
        its snapshot's settings, so a drill instance that refuses deletion has it switched off."""
        try:
            self._call(f"delete {instance_id}", "delete_db_instance", DBInstanceIdentifier=instance_id,
                       SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        except OpsError as exc:
            if "deletion protection" not in str(exc).lower():
                raise
            self._call(f"unprotect {instance_id}", "modify_db_instance", DBInstanceIdentifier=instance_id,
                       DeletionProtection=False, ApplyImmediately=True)
            self._call(f"delete {instance_id}", "delete_db_instance", DBInstanceIdentifier=instance_id,
                       SkipFinalSnapshot=True, DeleteAutomatedBackups=True)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._call(f"delete {snapshot_id}", "delete_db_snapshot", DBSnapshotIdentifier=snapshot_id)
