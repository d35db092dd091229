"""The DR copy of a configuration export is readable in the DR region alone (the real handler on moto)."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError

from opsctl.local.lambda_runtime import LambdaRegistry
from tests.events import load_event

ROOT = Path(__file__).resolve().parents[2]
PRIMARY, DR = "us-east-1", "us-west-2"
DR_ALIAS = "alias/churnguard-ops-dr"
SECURE = {"/churnguard/db/password": "pg-super-secret", "/churnguard/api/token": "tok-3f9a-not-public"}
PLAIN = {"/churnguard/api/base-url": "https://api.churnguard.example"}
# Scheduled deliveries older than the retry window are refused: tick at the start of this hour.
TICK = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
KEY = f"configuration/ssm/{TICK:%Y/%m/%d}/{TICK:%Y%m%d}T0000Z.json"


@pytest.fixture
def account(moto_aws):
    primary_key = boto3.client("kms", PRIMARY).create_key()["KeyMetadata"]["Arn"]
    dr_kms = boto3.client("kms", DR)
    dr_key = dr_kms.create_key()["KeyMetadata"]["Arn"]
    dr_kms.create_alias(AliasName=DR_ALIAS, TargetKeyId=dr_key)
    boto3.client("s3", PRIMARY).create_bucket(Bucket="backups")
    boto3.client("s3", DR).create_bucket(Bucket="backups-dr", CreateBucketConfiguration={"LocationConstraint": DR})
    ssm = boto3.client("ssm", PRIMARY)
    for name, value in PLAIN.items():
        ssm.put_parameter(Name=name, Value=value, Type="String")
    for name, value in SECURE.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    registry = LambdaRegistry(default_region=PRIMARY)
    registry.register("churnguard-ops-backup", "app.handler", code_dir=ROOT / "functions" / "backup", environment={
        "POWERTOOLS_SERVICE_NAME": "backup", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
        "BACKUP_DB_INSTANCE_IDS": '["churnguard-prod"]', "BACKUP_DR_REGION": DR, "BACKUP_DR_KMS_KEY_ID": DR_ALIAS,
        "BACKUP_BUCKET": "backups", "BACKUP_KMS_KEY_ARN": primary_key, "BACKUP_DR_BUCKET": "backups-dr",
        "BACKUP_SSM_PATHS": '["/churnguard/"]', "BACKUP_APP_DATA_BUCKETS": "[]"})
    yield SimpleNamespace(registry=registry, primary_key=primary_key, dr_key=dr_key)


def _export(account):
    event = load_event("backup/scheduled-tick-configuration.json", time=TICK.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return account.registry.invoke("churnguard-ops-backup", event)


def _document(region: str, bucket: str) -> dict:
    return json.loads(boto3.client("s3", region).get_object(Bucket=bucket, Key=KEY)["Body"].read())


def _ciphertexts(document: dict) -> dict[str, str]:
    return {p["Name"]: p["CiphertextBlob"] for p in document["parameters"] if "CiphertextBlob" in p}


def test_every_dr_secure_string_decrypts_with_only_the_dr_region_kms(account):
    result = _export(account)
    assert result.function_error is None, result.payload

    dr_document = _document(DR, "backups-dr")
    dr_kms = boto3.client("kms", DR)  # the primary region is gone: nothing else is used to read the DR copy
    decrypted = {}
    for name, blob in _ciphertexts(dr_document).items():
        answer = dr_kms.decrypt(CiphertextBlob=base64.b64decode(blob),
                                EncryptionContext={"churnguard:parameter": name})
        assert answer["KeyId"] == account.dr_key
        decrypted[name] = answer["Plaintext"].decode()
    assert decrypted == SECURE
    assert {p["Name"]: p["Value"] for p in dr_document["parameters"] if "Value" in p} == PLAIN
    assert dr_document["secure_string_encryption"]["key"] == account.dr_key
    assert dr_document["secure_string_encryption"]["region"] == DR
    assert dr_document["secure_string_encryption"]["context"] == "churnguard:parameter=<Name>"


def test_primary_document_keeps_its_own_ciphertext_which_the_dr_region_cannot_decrypt(account):
    assert _export(account).function_error is None
    primary_document = _document(PRIMARY, "backups")
    primary, dr = _ciphertexts(primary_document), _ciphertexts(_document(DR, "backups-dr"))
    assert set(primary) == set(dr) == set(SECURE)
    assert all(primary[name] != dr[name] for name in SECURE)
    assert primary_document["secure_string_encryption"]["key"] == account.primary_key
    name = "/churnguard/db/password"
    with pytest.raises(ClientError):  # why the DR copy needs its own ciphertext
        boto3.client("kms", DR).decrypt(CiphertextBlob=base64.b64decode(primary[name]),
                                        EncryptionContext={"churnguard:parameter": name})
    plain = boto3.client("kms", PRIMARY).decrypt(CiphertextBlob=base64.b64decode(primary[name]),
                                                 EncryptionContext={"churnguard:parameter": name})["Plaintext"]
    assert plain.decode() == SECURE[name]


def test_dr_key_unusable_fails_the_dr_copy_reported_and_keeps_the_primary_export(account):
    boto3.client("kms", DR).delete_alias(AliasName=DR_ALIAS)  # e.g. the DR stack was not deployed

    result = _export(account)

    assert result.function_error == "Unhandled"  # Lambda retries the tick; the DLQ gets it if it keeps failing
    assert result.payload["errorType"] == "BackupIncomplete"
    assert f"s3://backups-dr/{KEY} (export)" in result.payload["errorMessage"]
    assert DR_ALIAS in result.payload["errorMessage"]  # names the key that could not be used
    primary_document = _document(PRIMARY, "backups")
    assert set(_ciphertexts(primary_document)) == set(SECURE)
    with pytest.raises(ClientError, match="NoSuchKey"):
        _document(DR, "backups-dr")
