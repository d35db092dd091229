"""RDS adapter for :class:`SnapshotStore` (one region)."""
from __future__ import annotations

from typing import Any

from churnguard_ops import MARKER_TAG, MARKER_VALUE, aws
from churnguard_ops.backup.model import DbInstance, Snapshot
from churnguard_ops.errors import OpsError, raise_translated


class RefusedDeletion(OpsError):
    """A delete was asked for a snapshot this system did not create."""


def _tags(raw: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


class RdsSnapshotStore:
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

    def describe_instance(self, instance_id: str) -> DbInstance:
        found = self._call(f"describe {instance_id}", "describe_db_instances",
                           DBInstanceIdentifier=instance_id)["DBInstances"][0]
        return DbInstance(
            instance_id=instance_id,
            arn=found["DBInstanceArn"],
            status=found.get("DBInstanceStatus", "unknown"),
            storage_encrypted=bool(found.get("StorageEncrypted")),
            multi_az=bool(found.get("MultiAZ")),
            backup_retention_days=int(found.get("BackupRetentionPeriod") or 0),
            deletion_protection=bool(found.get("DeletionProtection")),
            performance_insights=bool(found.get("PerformanceInsightsEnabled")),
            latest_restorable_time=found.get("LatestRestorableTime"),
        )

    def _snapshots(self, what: str, **filters: Any) -> list[Snapshot]:
        try:
            pages = self._rds.get_paginator("describe_db_snapshots").paginate(**filters)
            raw = [s for page in pages for s in page["DBSnapshots"]]
        except Exception as exc:
            raise_translated(exc, what)
        return [self._snapshot(s) for s in raw]

    def _snapshot(self, raw: dict) -> Snapshot:
        # Describe returns TagList; if it ever does not, the snapshot looks foreign and is never
        # pruned (IAM allows ListTagsForResource only on our own snapshots anyway).
        tags = _tags(raw.get("TagList"))
        return Snapshot(
            snapshot_id=raw["DBSnapshotIdentifier"],
            arn=raw["DBSnapshotArn"],
            region=self.region,
            source_instance=tags.get("SourceDBInstance") or raw.get("DBInstanceIdentifier", ""),
            created_at=raw.get("SnapshotCreateTime"),
            status=raw.get("Status", "unknown"),
            snapshot_type=raw.get("SnapshotType", "manual"),
            tags=tags,
            encrypted=bool(raw.get("Encrypted")),
        )

    def list_snapshots(self, manual_only: bool = False) -> list[Snapshot]:
        filters = {"SnapshotType": "manual"} if manual_only else {}
        return self._snapshots(f"list snapshots in {self.region}", **filters)

    def list_instance_snapshots(self, instance_id: str) -> list[Snapshot]:
        return self._snapshots(f"list snapshots of {instance_id}", DBInstanceIdentifier=instance_id)

    def create_snapshot(self, instance_id: str, snapshot_id: str, tags: dict[str, str]) -> Snapshot:
        raw = self._call(f"snapshot {instance_id}", "create_db_snapshot", DBInstanceIdentifier=instance_id,
                         DBSnapshotIdentifier=snapshot_id,
                         Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["DBSnapshot"]
        raw.setdefault("TagList", [{"Key": k, "Value": v} for k, v in tags.items()])
        return self._snapshot(raw)

    def copy_from(self, source: Snapshot, kms_key_id: str | None, tags: dict[str, str]) -> Snapshot:
        kwargs: dict[str, Any] = {
            "SourceDBSnapshotIdentifier": source.arn,
            "TargetDBSnapshotIdentifier": source.snapshot_id,
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            "SourceRegion": source.region,  # botocore presigns the cross-region request
        }
        if kms_key_id:  # encrypted copies need a key in *this* (the destination) region
            kwargs["KmsKeyId"] = kms_key_id
        raw = self._call(f"copy {source.snapshot_id} to {self.region}", "copy_db_snapshot", **kwargs)["DBSnapshot"]
        raw.setdefault("TagList", kwargs["Tags"])
        return self._snapshot(raw)

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        # Guard against a caller bug: re-read the tags from RDS, never trust the caller's copy.
        live = _tags(self._call("read tags", "list_tags_for_resource", ResourceName=snapshot.arn).get("TagList"))
        if live.get(MARKER_TAG) != MARKER_VALUE or snapshot.snapshot_type != "manual":
            raise RefusedDeletion(f"refusing to delete {snapshot.snapshot_id}: not created by {MARKER_VALUE}")
        self._call(f"delete {snapshot.snapshot_id}", "delete_db_snapshot",
                   DBSnapshotIdentifier=snapshot.snapshot_id)
