"""The real backup handler on moto (in-process): RDS, KMS, SSM and S3 behave as the AWS APIs do."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from churnguard_ops.backup import naming
from churnguard_ops.core import aws
from opsctl.local.lambda_runtime import LambdaRegistry
from tests.events import event_files, load_event

ROOT = Path(__file__).resolve().parents[2]
PRIMARY, DR = "us-east-1", "us-west-2"
INSTANCES = ["churnguard-prod", "churnguard-analytics"]


class _ThrottleResponse:
    status_code = 400


@pytest.fixture
def account(moto_aws):
    rds = boto3.client("rds", PRIMARY)
    for db in INSTANCES:
        rds.create_db_instance(DBInstanceIdentifier=db, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="not-a-secret-1",
                               StorageEncrypted=True, BackupRetentionPeriod=30, MultiAZ=True)
    backup_key = boto3.client("kms", PRIMARY).create_key()["KeyMetadata"]["Arn"]
    dr_kms = boto3.client("kms", DR)
    dr_key_id = dr_kms.create_key()["KeyMetadata"]["KeyId"]
    dr_kms.create_alias(AliasName="alias/churnguard-ops-dr", TargetKeyId=dr_key_id)
    boto3.client("s3", PRIMARY).create_bucket(Bucket="backups")
    boto3.client("s3", DR).create_bucket(Bucket="backups-dr", CreateBucketConfiguration={"LocationConstraint": DR})
    boto3.client("s3", PRIMARY).create_bucket(Bucket="churnguard-app-data")
    ssm = boto3.client("ssm", PRIMARY)
    ssm.put_parameter(Name="/churnguard/api/base-url", Value="https://api.churnguard.example", Type="String")
    ssm.put_parameter(Name="/churnguard/db/password", Value="pg-super-secret", Type="SecureString")
    registry = LambdaRegistry(default_region=PRIMARY)
    registry.register("churnguard-ops-backup", "app.handler", code_dir=ROOT / "functions" / "backup", environment={
        "POWERTOOLS_SERVICE_NAME": "backup", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
        "BACKUP_DB_INSTANCE_IDS": json.dumps(INSTANCES), "BACKUP_DR_REGION": DR,
        "BACKUP_DR_KMS_KEY_ID": "alias/churnguard-ops-dr", "BACKUP_BUCKET": "backups",
        "BACKUP_KMS_KEY_ARN": backup_key, "BACKUP_DR_BUCKET": "backups-dr",
        "BACKUP_SSM_PATHS": '["/churnguard/"]', "BACKUP_APP_DATA_BUCKETS": '["churnguard-app-data"]'})
    yield registry


# The handler refuses events older than its retry window, so the samples are delivered at the start of
# this hour (always inside it); expected names derive from it.
TICK = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
TICK_TIME = TICK.strftime("%Y-%m-%dT%H:%M:%SZ")


def _invoke(registry, name="backup/scheduled-tick-database.json", **overrides):
    overrides.setdefault("time", TICK_TIME)
    return registry.invoke("churnguard-ops-backup", load_event(name, **overrides))


def _snapshots(region, **filters):
    return boto3.client("rds", region).describe_db_snapshots(SnapshotType="manual", **filters)["DBSnapshots"]


def test_every_sample_event_in_events_backup_runs_through_the_real_handler(account):
    for path in event_files("backup"):
        result = account.invoke("churnguard-ops-backup", {**json.loads(path.read_text()), "time": TICK_TIME})
        assert result.function_error is None, (path.name, result.payload)


def test_database_tick_creates_tagged_snapshots_and_encrypted_dr_copies(account):
    result = _invoke(account)
    assert result.function_error is None, result.payload
    made = {s["DBSnapshotIdentifier"]: s for s in _snapshots(PRIMARY)}
    assert set(made) == {f"churnguard-ops-{db}-database-{TICK:%Y%m%dt%H%M}" for db in INSTANCES}
    tags = {t["Key"]: t["Value"] for t in next(iter(made.values()))["TagList"]}
    assert tags["Purpose"] == "DisasterRecovery" and tags["CreatedBy"] == "churnguard-ops"
    copies = _snapshots(DR)
    assert {c["DBSnapshotIdentifier"] for c in copies} == set(made)
    dr_key = boto3.client("kms", DR).describe_key(KeyId="alias/churnguard-ops-dr")["KeyMetadata"]["Arn"]
    assert all(c["Encrypted"] and c["KmsKeyId"] == dr_key for c in copies)


def test_same_scheduled_event_delivered_twice_leaves_one_snapshot_per_instance(account):
    assert _invoke(account).function_error is None
    again = _invoke(account)
    assert again.function_error is None
    assert {o["status"] for o in again.payload["outcomes"] if o["action"] == "snapshot"} == {"exists"}
    assert len(_snapshots(PRIMARY)) == len(INSTANCES)


def test_throttled_instance_fails_the_invocation_after_the_others_succeed_and_a_retry_completes(account):
    rds = aws.client("rds", PRIMARY)

    def throttle_prod(params, **_):
        if params["body"].get("DBInstanceIdentifier") == "churnguard-prod":  # serialized request
            return _ThrottleResponse(), {"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                                         "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    rds.meta.events.register("before-call.rds.CreateDBSnapshot", throttle_prod)
    failed = _invoke(account)
    assert failed.function_error == "Unhandled"
    assert failed.payload["errorType"] == "BackupIncomplete"
    assert "churnguard-prod (snapshot)" in failed.payload["errorMessage"]
    assert [s["DBInstanceIdentifier"] for s in _snapshots(PRIMARY)] == ["churnguard-analytics"]

    rds.meta.events.unregister("before-call.rds.CreateDBSnapshot", throttle_prod)
    retried = _invoke(account)  # Lambda's async retry redelivers the same event
    assert retried.function_error is None
    assert len(_snapshots(PRIMARY)) == len(INSTANCES)


def test_expired_own_snapshot_is_pruned_and_foreign_snapshot_is_kept(account):
    rds = boto3.client("rds", PRIMARY)
    now = datetime.now(timezone.utc)

    def own(slot, retention):
        name = naming.snapshot_id("churnguard-prod", "database", slot)
        tags = naming.snapshot_tags("churnguard-prod", "database", slot, retention)
        rds.create_db_snapshot(DBInstanceIdentifier="churnguard-prod", DBSnapshotIdentifier=name,
                               Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        return name

    expired = own(now - timedelta(days=40), now - timedelta(days=10))
    recent = [own(now - timedelta(hours=hours), now + timedelta(days=29)) for hours in (1, 2, 3)]
    # An operator's legal-hold copy of the expired backup, made with copy-tags: our tags, not our name.
    rds.copy_db_snapshot(SourceDBSnapshotIdentifier=expired, TargetDBSnapshotIdentifier="legal-hold-2026",
                         CopyTags=True)
    rds.create_db_snapshot(DBInstanceIdentifier="churnguard-prod", DBSnapshotIdentifier="dba-before-migration")
    result = _invoke(account)
    assert result.function_error is None, result.payload
    names = {s["DBSnapshotIdentifier"] for s in _snapshots(PRIMARY)}
    assert expired not in names
    assert {"dba-before-migration", "legal-hold-2026", *recent} <= names


def test_configuration_export_writes_kms_ciphertext_for_secure_strings(account):
    result = _invoke(account, "backup/scheduled-tick-configuration.json")
    assert result.function_error is None, result.payload
    key = f"configuration/ssm/{TICK:%Y/%m/%d}/{TICK:%Y%m%d}T0000Z.json"
    body = boto3.client("s3", PRIMARY).get_object(Bucket="backups", Key=key)["Body"].read()
    assert b"pg-super-secret" not in body
    secret = next(p for p in json.loads(body)["parameters"] if p["Name"] == "/churnguard/db/password")
    import base64
    plain = boto3.client("kms", PRIMARY).decrypt(
        CiphertextBlob=base64.b64decode(secret["CiphertextBlob"]),
        EncryptionContext={"churnguard:parameter": "/churnguard/db/password"})["Plaintext"]
    assert plain == b"pg-super-secret"
    # The DR copy is its own document, encrypted in the DR region (tests/integration/test_backup_configuration_dr.py).
    assert boto3.client("s3", DR).head_object(Bucket="backups-dr", Key=key)["ContentLength"] > 0


def test_application_data_bucket_gets_versioning_and_noncurrent_retention(account):
    result = _invoke(account, "backup/scheduled-tick-application-data.json")
    assert result.function_error is None, result.payload
    s3 = boto3.client("s3", PRIMARY)
    assert s3.get_bucket_versioning(Bucket="churnguard-app-data")["Status"] == "Enabled"
    rule = s3.get_bucket_lifecycle_configuration(Bucket="churnguard-app-data")["Rules"][0]
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90


def test_malformed_event_fails_with_a_validation_error_naming_the_field(account):
    event = load_event("backup/scheduled-tick-database.json")
    event["detail"] = {"policy": "everything"}
    result = account.invoke("churnguard-ops-backup", event)
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValidationError"
    assert "policy" in result.payload["errorMessage"]
    assert _snapshots(PRIMARY) == []
