"""The pretend production account the embedded default runs against.

CDK deploys *our* resources; this seeds what a real account already has and our stacks only
reference: the RDS instances named in the backup context, SSM parameters, application-data
buckets, and a month of backup history, including one expired snapshot of ours and one foreign
snapshot made by a DBA, so a backup tick has something to prune and something to leave alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from infra_cdk.settings import ChurnGuardContext

FOREIGN_SNAPSHOT = "dba-manual-before-pg15-upgrade"
PARAMETERS = {
    "/churnguard/api/base-url": ("String", "https://api.churnguard.example"),
    "/churnguard/model/threshold": ("String", "0.42"),
    "/churnguard/features/enabled": ("StringList", "predictions,alerts,exports"),
    "/churnguard/db/password": ("SecureString", "local-only-pg-password"),
    "/churnguard/stripe/api-key": ("SecureString", "sk_test_local_only"),
}


@dataclass
class SeededWorld:
    instances: list[str]
    expired_snapshot: str
    foreign_snapshot: str
    secure_values: list[str] = field(default_factory=list)


def _history_tags(instance_id: str, slot: datetime, retention_days: int) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in {
        "Purpose": "DisasterRecovery", "CreatedBy": "churnguard-ops", "Policy": "database",
        "SourceDBInstance": instance_id, "Slot": slot.isoformat(),
        "RetentionDate": (slot + timedelta(days=retention_days)).isoformat()}.items()]


def seed_world(context: ChurnGuardContext, region: str, now: datetime | None = None) -> SeededWorld:
    now = now or datetime.now(timezone.utc)
    backup = context.backup
    retention = backup.policies["database"].retention_days
    rds: Any = boto3.client("rds", region_name=region)
    for instance_id in backup.db_instance_ids:
        rds.create_db_instance(
            DBInstanceIdentifier=instance_id, Engine="postgres", EngineVersion="15.8",
            DBInstanceClass="db.r6g.large", AllocatedStorage=100, MasterUsername="churnguard",
            MasterUserPassword="local-only-pg-password", StorageEncrypted=True, MultiAZ=True,
            BackupRetentionPeriod=30, DeletionProtection=True, EnablePerformanceInsights=True)
        # A month of hourly history, thinned: three recent snapshots and one past retention.
        for hours in (1, 2, 3):
            slot = (now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
            rds.create_db_snapshot(DBInstanceIdentifier=instance_id,
                                   DBSnapshotIdentifier=f"churnguard-ops-{instance_id}-database-{slot:%Y%m%dt%H%M}",
                                   Tags=_history_tags(instance_id, slot, retention))
    primary = backup.db_instance_ids[0]
    old_slot = (now - timedelta(days=retention + 10)).replace(minute=0, second=0, microsecond=0)
    expired = f"churnguard-ops-{primary}-database-{old_slot:%Y%m%dt%H%M}"
    rds.create_db_snapshot(DBInstanceIdentifier=primary, DBSnapshotIdentifier=expired,
                           Tags=_history_tags(primary, old_slot, retention))
    rds.create_db_snapshot(DBInstanceIdentifier=primary, DBSnapshotIdentifier=FOREIGN_SNAPSHOT,
                           Tags=[{"Key": "Owner", "Value": "dba-team"}])

    ssm: Any = boto3.client("ssm", region_name=region)
    for name, (kind, value) in PARAMETERS.items():
        ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)
    s3: Any = boto3.client("s3", region_name=region)
    for bucket in backup.app_data_buckets:
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="exports/2026-11/churn-scores.csv", Body=b"customer_id,score\n1,0.12\n")
    return SeededWorld(instances=list(backup.db_instance_ids), expired_snapshot=expired,
                       foreign_snapshot=FOREIGN_SNAPSHOT,
                       secure_values=[v for kind, v in PARAMETERS.values() if kind == "SecureString"])
