"""The pretend production account the embedded default runs against.

CDK deploys *our* resources; this seeds what a real account already has and our stacks only
reference: the RDS instances named in the backup context, SSM parameters, application-data
buckets, and a month of backup history, including one expired snapshot of ours and one foreign
snapshot made by a DBA, so a backup tick has something to prune and something to leave alone.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from churnguard_ops.backup.naming import snapshot_id, snapshot_tags
from infra_cdk.settings import ChurnGuardContext
from opsctl.console import progress
from opsctl.local.postgres import DatabaseCopyError

FOREIGN_SNAPSHOT = "dba-manual-before-pg15-upgrade"
PARAMETERS = {
    "/churnguard/api/base-url": ("String", "https://api.churnguard.example"),
    "/churnguard/model/threshold": ("String", "0.42"),
    "/churnguard/features/enabled": ("StringList", "predictions,alerts,exports"),
    "/churnguard/db/password": ("SecureString", "local-only-pg-password"),
    "/churnguard/stripe/api-key": ("SecureString", "sk_test_local_only"),
}


MASTER_USER = "churnguard"
MASTER_PASSWORD = "local-only-pg-password"
LOCAL_SECRET_PREFIX = "churnguard-ops/local/"


@dataclass
class SeededWorld:
    instances: list[str]
    expired_snapshot: str
    foreign_snapshot: str
    secure_values: list[str] = field(default_factory=list)
    databases: dict[str, str] = field(default_factory=dict)  # instance id -> embedded PostgreSQL database


def local_secret_arn(instance_id: str, region: str, account: str = "123456789012") -> str:
    """Partial ARN (no random suffix): what the local context hands to the functions, as a user would."""
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{LOCAL_SECRET_PREFIX}{instance_id}"


def load_source_database(postgres: Any, database: str, source_dsn: str | None) -> dict[str, int] | None:
    """The "production database": a copy of ``source_dsn`` if given, else the seeded ChurnGuard schema."""
    dsn = postgres.create_database(database)
    if source_dsn is None:
        from opsctl.local.churnguard_schema import seed_churnguard

        return seed_churnguard(dsn)
    # Owners and grants name roles of the source's cluster; the local copy belongs to the local master user.
    try:
        not_valid = postgres.restore_from(source_dsn, database)
    except DatabaseCopyError as exc:
        raise DatabaseCopyError(f"could not copy the source database: {exc}") from None
    if not_valid:  # what an RDS block copy would carry too; the drill's foreign-key check reports the rows
        progress(f"  rows in the source violate {len(not_valid)} foreign key(s); copied with them, the key(s) "
                 f"NOT VALID: {', '.join(not_valid)}")
    return None


def _history_tags(instance_id: str, slot: datetime, retention_days: int) -> list[dict[str, str]]:
    """Tagged exactly as the backup function tags its database snapshots."""
    tags = snapshot_tags(instance_id, "database", slot, slot + timedelta(days=retention_days))
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def seed_world(context: ChurnGuardContext, region: str, now: datetime | None = None,
               bind: Callable[[str], str | None] | None = None) -> SeededWorld:
    """``bind(instance_id)`` may attach a real database to an instance and return its name."""
    now = now or datetime.now(timezone.utc)
    backup = context.backup
    retention = backup.policies["database"].retention_days
    rds: Any = boto3.client("rds", region_name=region)
    secrets: Any = boto3.client("secretsmanager", region_name=region)
    databases: dict[str, str] = {}
    for instance_id in backup.db_instance_ids:
        database = bind(instance_id) if bind else None
        rds.create_db_instance(
            DBInstanceIdentifier=instance_id, Engine="postgres", EngineVersion="15.8",
            DBInstanceClass="db.r6g.large", AllocatedStorage=100, MasterUsername=MASTER_USER,
            MasterUserPassword=MASTER_PASSWORD, StorageEncrypted=True, MultiAZ=True, DBName=database or "churnguard",
            BackupRetentionPeriod=30, DeletionProtection=True, EnablePerformanceInsights=True)
        if database:
            databases[instance_id] = database
            secrets.create_secret(Name=LOCAL_SECRET_PREFIX + instance_id, SecretString=json.dumps(
                {"username": MASTER_USER, "password": MASTER_PASSWORD, "dbname": database}))
        # A month of hourly history, thinned: three recent snapshots and one past retention. The last
        # three hours stay free: the demo delivers ticks for them (a tick may be up to 3 h late).
        for hours in (4, 5, 6):
            slot = (now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
            rds.create_db_snapshot(DBInstanceIdentifier=instance_id,
                                   DBSnapshotIdentifier=snapshot_id(instance_id, "database", slot),
                                   Tags=_history_tags(instance_id, slot, retention))
    primary = backup.db_instance_ids[0]
    old_slot = (now - timedelta(days=retention + 10)).replace(minute=0, second=0, microsecond=0)
    expired = snapshot_id(primary, "database", old_slot)
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
                       foreign_snapshot=FOREIGN_SNAPSHOT, databases=databases,
                       secure_values=[v for kind, v in PARAMETERS.values() if kind == "SecureString"])
