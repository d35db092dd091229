"""The advisor handler on the embedded AWS (moto server + the RDS data plane) and real PostgreSQL: DescribeDBInstances,
Secrets Manager, the database, then the advice and proposals documents in S3 with the ops key, and the SNS summary.

One moto server and one PostgreSQL serve the module; the handler runs in this process through the Lambda runtime.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from churnguard_ops.core.contracts import DBADVISOR_PROPOSALS_PREFIX, DBADVISOR_REPORTS_PREFIX
from opsctl.local.aws import EmbeddedAws
from opsctl.local.churnguard_schema import seed_churnguard
from opsctl.local.postgres import EmbeddedPostgres
from tests.events import load_event

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
BUCKET = "ops-bucket"
INSTANCE = "churnguard-prod"
MISSING = "churnguard-gone"  # configured, but no such instance: its advice fails, the other's does not


@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    state = Path(tempfile.mkdtemp(prefix="dbadvisor-", dir="/tmp"))
    state.chmod(0o755)
    try:
        with EmbeddedPostgres(state) as server:
            yield server
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def account(pg: EmbeddedPostgres) -> Iterator[dict[str, Any]]:
    with EmbeddedAws(region=REGION) as aws:
        aws.attach_postgres(pg)
        seed_churnguard(pg.create_database("prod_app"))
        assert aws.rds_dataplane is not None
        aws.rds_dataplane.bind(INSTANCE, "prod_app", region=REGION)
        boto3.client("rds", REGION).create_db_instance(
            DBInstanceIdentifier=INSTANCE, Engine="postgres", EngineVersion="15.8", DBInstanceClass="db.t3.micro",
            AllocatedStorage=20, MasterUsername="churnguard", MasterUserPassword="local-only-pg-password",
            DBName="prod_app")
        secret = boto3.client("secretsmanager", REGION).create_secret(
            Name="monitoring", SecretString=json.dumps({"username": "churnguard", "password": "local-only"}))["ARN"]
        boto3.client("s3", REGION).create_bucket(Bucket=BUCKET)
        key = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
        sns, sqs = boto3.client("sns", REGION), boto3.client("sqs", REGION)
        topic = sns.create_topic(Name="ops")["TopicArn"]
        queue = sqs.create_queue(QueueName="ops-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        env = {"POWERTOOLS_SERVICE_NAME": "dbadvisor", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
               "DBADVISOR_DB_SECRETS": json.dumps({INSTANCE: secret, MISSING: secret}),
               "DBADVISOR_BUCKET": BUCKET, "DBADVISOR_KMS_KEY_ARN": key, "DBADVISOR_TOPIC_ARN": topic,
               "DBADVISOR_DB_SSLMODE": "disable"}
        aws.register("churnguard-ops-dbadvisor", "app.advise", code_dir=ROOT / "functions" / "dbadvisor",
                     environment=env)
        yield {"aws": aws, "key": key, "queue": queue}


def _invoke(account: dict[str, Any], event: dict[str, Any]) -> Any:
    return account["aws"].lambdas.invoke("churnguard-ops-dbadvisor", event)


def _object(key: str) -> dict[str, Any]:
    return boto3.client("s3", REGION).get_object(Bucket=BUCKET, Key=key)


def test_on_demand_advice_writes_both_documents_with_the_ops_key_and_summarises_on_the_topic(account, pg):
    result = _invoke(account, load_event("dbadvisor/on-demand-advise.json"))
    assert result.function_error is None, result.payload
    (instance,) = result.payload["instances"]
    assert instance["ok"] and instance["database"] == "prod_app"
    documents = instance["documents"]
    assert documents["proposals"] == f"s3://{BUCKET}/{DBADVISOR_PROPOSALS_PREFIX}{INSTANCE}.json"
    assert documents["json"].startswith(f"s3://{BUCKET}/{DBADVISOR_REPORTS_PREFIX}{INSTANCE}/")
    for location in documents.values():
        stored = _object(location.split("/", 3)[3])
        assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"] == account["key"]
    advice = json.loads(_object(documents["json"].split("/", 3)[3])["Body"].read())
    proposals = json.loads(_object(documents["proposals"].split("/", 3)[3])["Body"].read())
    assert advice["db_instance_id"] == INSTANCE and {"duplicate_index", "unused_index"} <= set(advice["counts"])
    if pg.preloaded:
        assert [(p["table"], p["columns"]) for p in proposals["proposals"]] == [("usage_events", ["org_id", "kind"])]
    (message,) = boto3.client("sqs", REGION).receive_message(QueueUrl=account["queue"], WaitTimeSeconds=1)["Messages"]
    assert INSTANCE in message["Body"] and "duplicate index" in message["Body"]
    emf = [r for r in result.emf_records if "DbAdvisorFindings" in r]
    counted = {r["Kind"]: r["DbAdvisorFindings"] for r in emf}  # EMF values are lists of datapoints
    assert counted["duplicate_index"] == [1.0] and counted["wraparound"] == [0.0] and len(counted) == 11


def test_the_schedule_advises_every_instance_and_fails_after_writing_the_others(account):
    before = {o["Key"] for o in boto3.client("s3", REGION).list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    result = _invoke(account, load_event("dbadvisor/scheduled-advise.json"))
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "AdviceFailed" and MISSING in result.payload["errorMessage"]
    after = {o["Key"] for o in boto3.client("s3", REGION).list_objects_v2(Bucket=BUCKET)["Contents"]}
    new = after - before
    assert any(k.startswith(f"{DBADVISOR_REPORTS_PREFIX}{INSTANCE}/") and k.endswith("advice.json") for k in new)
    assert not any(MISSING in k for k in after)


def test_an_unconfigured_instance_is_refused(account):
    result = _invoke(account, {"action": "advise", "db_instance_id": "someone-else"})
    assert result.function_error == "Unhandled" and "not a configured instance" in result.payload["errorMessage"]
