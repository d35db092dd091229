"""The one RDS adapter (one region): instances, snapshots, copies, restores and guarded deletes.

Every call goes through :func:`errors.raise_translated`, so callers see domain errors only.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import OpsError, RefusedDeletion, raise_translated
from churnguard_ops.core.rds_model import DbInstance, Snapshot, proves_ownership


def tag_dict(raw: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class RdsGateway:
    def __init__(self, region: str) -> None:
        self.region = region

    @property
    def _rds(self) -> Any:
        return aws.client("rds", self.region)

    def _call(self, what: str, operation: str, **kwargs: Any) -> dict:
        try:
            return getattr(self._rds, operation)(**kwargs)
        except Exception as exc:  # botocore ClientError and friends become domain errors
            raise_translated(exc, what)

    def _pages(self, what: str, operation: str, key: str, **kwargs: Any) -> list[dict]:
        try:
            pages = self._rds.get_paginator(operation).paginate(**kwargs)
            return [item for page in pages for item in page[key]]
        except Exception as exc:
            raise_translated(exc, what)

    # -- mapping ----------------------------------------------------------------------------------
    def _instance(self, raw: dict, instance_id: str | None = None) -> DbInstance:
        endpoint = raw.get("Endpoint") or {}
        return DbInstance(
            # The id as the caller configured it: RDS reports identifiers in lower case.
            instance_id=instance_id or raw["DBInstanceIdentifier"],
            status=raw.get("DBInstanceStatus", "unknown"),
            arn=raw.get("DBInstanceArn", ""),
            address=endpoint.get("Address"),
            port=endpoint.get("Port"),
            db_name=raw.get("DBName"),
            subnet_group=(raw.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
            security_group_ids=[g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups", [])],
            storage_encrypted=bool(raw.get("StorageEncrypted")),
            multi_az=bool(raw.get("MultiAZ")),
            backup_retention_days=int(raw.get("BackupRetentionPeriod") or 0),
            deletion_protection=bool(raw.get("DeletionProtection")),
            performance_insights=bool(raw.get("PerformanceInsightsEnabled")),
            latest_restorable_time=raw.get("LatestRestorableTime"),
            tags=tag_dict(raw.get("TagList")),
        )

    def _snapshot(self, raw: dict) -> Snapshot:
        # Describe returns TagList; if it ever does not, the snapshot looks foreign and is never deleted.
        tags = tag_dict(raw.get("TagList"))
        return Snapshot(
            snapshot_id=raw["DBSnapshotIdentifier"],
            arn=raw["DBSnapshotArn"],
            region=self.region,
            source_instance=tags.get("SourceDBInstance") or raw.get("DBInstanceIdentifier", ""),
            created_at=raw.get("SnapshotCreateTime"),
            status=raw.get("Status", "unknown"),
            snapshot_type=raw.get("SnapshotType", "manual"),
            encrypted=bool(raw.get("Encrypted")),
            tags=tags,
            original_created_at=raw.get("OriginalSnapshotCreateTime"),
        )

    # -- reads ------------------------------------------------------------------------------------
    def instance(self, instance_id: str) -> DbInstance:
        raw = self._call(f"describe {instance_id}", "describe_db_instances", DBInstanceIdentifier=instance_id)
        return self._instance(raw["DBInstances"][0], instance_id)

    def instances(self) -> list[DbInstance]:
        return [self._instance(r) for r in self._pages(f"list instances in {self.region}", "describe_db_instances",
                                                       "DBInstances")]

    def snapshot(self, snapshot_id: str) -> Snapshot:
        raw = self._call(f"describe snapshot {snapshot_id}", "describe_db_snapshots", DBSnapshotIdentifier=snapshot_id)
        return self._snapshot(raw["DBSnapshots"][0])

    def snapshots(self, instance_id: str | None = None, *, manual_only: bool = True) -> list[Snapshot]:
        """Snapshots in the region (of one instance if given), with tags; automated too unless manual_only."""
        filters: dict[str, Any] = {"SnapshotType": "manual"} if manual_only else {}
        if instance_id:
            filters["DBInstanceIdentifier"] = instance_id
        what = f"list snapshots of {instance_id}" if instance_id else f"list snapshots in {self.region}"
        return [self._snapshot(r) for r in self._pages(what, "describe_db_snapshots", "DBSnapshots", **filters)]

    # -- creates ----------------------------------------------------------------------------------
    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot:
        """Raises AlreadyExists when the id is taken."""
        raw = self._call(f"snapshot {instance_id}", "create_db_snapshot", DBInstanceIdentifier=instance_id,
                         DBSnapshotIdentifier=snapshot_id, Tags=tag_list(tags))["DBSnapshot"]
        raw.setdefault("TagList", tag_list(tags))
        return self._snapshot(raw)

    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot:
        """Copy a snapshot from another region into this one, under the same id. Raises AlreadyExists."""
        kwargs: dict[str, Any] = {
            "SourceDBSnapshotIdentifier": source.arn,
            "TargetDBSnapshotIdentifier": source.snapshot_id,
            "Tags": tag_list(tags),
            "SourceRegion": source.region,  # botocore presigns the cross-region request
        }
        if kms_key_id:  # encrypted copies need a key in *this* (the destination) region
            kwargs["KmsKeyId"] = kms_key_id
        raw = self._call(f"copy {source.snapshot_id} to {self.region}", "copy_db_snapshot", **kwargs)["DBSnapshot"]
        raw.setdefault("TagList", kwargs["Tags"])
        return self._snapshot(raw)

    def tag_snapshot(self, snapshot: Snapshot, tags: dict[str, str]) -> None:
        """Add or overwrite tags on a snapshot (RDS keeps the others)."""
        self._call(f"tag {snapshot.snapshot_id}", "add_tags_to_resource", ResourceName=snapshot.arn,
                   Tags=tag_list(tags))

    @staticmethod
    def _restore_options(instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> dict[str, Any]:
        # A temporary copy: small, private, single-AZ, deletable, and nothing of it outlives it.
        options: dict[str, Any] = {
            "DBInstanceClass": instance_class, "MultiAZ": False, "PubliclyAccessible": False,
            "DeletionProtection": False, "AutoMinorVersionUpgrade": False, "CopyTagsToSnapshot": False,
            "Tags": tag_list(tags)}
        if subnet_group:
            options["DBSubnetGroupName"] = subnet_group
        if security_group_ids:
            options["VpcSecurityGroupIds"] = security_group_ids
        return options

    def restore_snapshot(self, snapshot: Snapshot, instance_id: str, instance_class: str,
                         subnet_group: str | None, security_group_ids: list[str],
                         tags: dict[str, str]) -> DbInstance:
        raw = self._call(f"restore {snapshot.snapshot_id} as {instance_id}", "restore_db_instance_from_db_snapshot",
                         DBInstanceIdentifier=instance_id, DBSnapshotIdentifier=snapshot.snapshot_id,
                         **self._restore_options(instance_class, subnet_group, security_group_ids, tags))
        return self._instance(raw["DBInstance"])

    def restore_point_in_time(self, source_instance: str, instance_id: str, restore_time: datetime | None,
                              instance_class: str, subnet_group: str | None, security_group_ids: list[str],
                              tags: dict[str, str]) -> DbInstance:
        when: dict[str, Any] = {"RestoreTime": restore_time} if restore_time else {"UseLatestRestorableTime": True}
        raw = self._call(f"restore {source_instance} to a point in time as {instance_id}",
                         "restore_db_instance_to_point_in_time", SourceDBInstanceIdentifier=source_instance,
                         TargetDBInstanceIdentifier=instance_id, **when,
                         **self._restore_options(instance_class, subnet_group, security_group_ids, tags))
        return self._instance(raw["DBInstance"])

    # -- guarded deletes --------------------------------------------------------------------------
    def delete_snapshot(self, snapshot_id: str, *, required_tags: dict[str, str]) -> None:
        """Delete a manual snapshot whose live tags include ``required_tags``; refuse anything else.

        The tags are re-read from RDS: a caller's stale or mistaken copy never authorizes a delete.
        """
        live = self.snapshot(snapshot_id)
        if live.snapshot_type != "manual" or not proves_ownership(live.tags, required_tags):
            raise RefusedDeletion(f"refusing to delete {snapshot_id}: not tagged {required_tags}")
        self._call(f"delete {snapshot_id}", "delete_db_snapshot", DBSnapshotIdentifier=snapshot_id)

    def delete_instance(self, instance_id: str, *, required_tags: dict[str, str]) -> None:
        """Delete an instance whose live tags include ``required_tags``, without a final snapshot.

        A restored instance can inherit deletion protection from its snapshot's settings; an owned
        instance that has it is switched off first. Decided on the instance's state, never on an error's
        text: when the delete fails, the state is read again (protection may have been applied meanwhile).
        """
        live = self.instance(instance_id)
        if not proves_ownership(live.tags, required_tags):
            raise RefusedDeletion(f"refusing to delete instance {instance_id}: not tagged {required_tags}")
        if live.deletion_protection:
            self._unprotect(instance_id)
        try:
            self._delete_instance(instance_id)
        except OpsError:
            if not self.instance(instance_id).deletion_protection:
                raise
            self._unprotect(instance_id)
            self._delete_instance(instance_id)

    def _unprotect(self, instance_id: str) -> None:
        self._call(f"unprotect {instance_id}", "modify_db_instance", DBInstanceIdentifier=instance_id,
                   DeletionProtection=False, ApplyImmediately=True)

    def _delete_instance(self, instance_id: str) -> None:
        self._call(f"delete {instance_id}", "delete_db_instance", DBInstanceIdentifier=instance_id,
                   SkipFinalSnapshot=True, DeleteAutomatedBackups=True)


if TYPE_CHECKING:  # mypy proves the adapter satisfies the port
    from churnguard_ops.core.ports import RdsRegion

    _port: RdsRegion = RdsGateway("us-east-1")
