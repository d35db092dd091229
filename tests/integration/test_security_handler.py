"""The real security handlers on moto (in-process): SQS batches with partial failures, the DLQ, alerts,
WAF remediation and the weekly report, through the same wiring a deployed function uses."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from churnguard_ops.core import contracts
from opsctl.local.lambda_runtime import LambdaRegistry
from tests.events import load_event

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
ATTACKER = "185.220.101.34"


@pytest.fixture
def account(moto_aws) -> dict[str, Any]:
    ddb = boto3.client("dynamodb", REGION)
    ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.create_table(TableName="security", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}])
    sqs = boto3.client("sqs", REGION)
    dlq_url = sqs.create_queue(QueueName="security-dlq")["QueueUrl"]
    topic = boto3.client("sns", REGION).create_topic(Name="ops")["TopicArn"]
    boto3.client("s3", REGION).create_bucket(Bucket="ops-bucket")
    ip_set = boto3.client("wafv2", REGION).create_ip_set(Name="blocked", Scope="REGIONAL", IPAddressVersion="IPV4",
                                                          Addresses=[])["Summary"]
    env = {"POWERTOOLS_SERVICE_NAME": "security", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
           "SECURITY_STATE_TABLE": "state", "SECURITY_TABLE": "security", "SECURITY_QUARANTINE_QUEUE_URL": dlq_url,
           "SECURITY_TOPIC_ARN": topic, "SECURITY_REPORTS_BUCKET": "ops-bucket",
           "SECURITY_WAF_IP_SET_NAME": ip_set["Name"], "SECURITY_WAF_IP_SET_ID": ip_set["Id"],
           "SECURITY_REMEDIATION": json.dumps({"dry_run": False})}
    registry = LambdaRegistry(default_region=REGION)
    for name in ("analyze", "remediate", "report"):
        registry.register(f"security-{name}", f"app.{name}", code_dir=ROOT / "functions" / "security",
                          environment=env)
    return {"registry": registry, "dlq_url": dlq_url, "ip_set": ip_set}


def _record(n: int, body: str) -> dict[str, Any]:
    record = json.loads(json.dumps(load_event("security/sqs-batch.json")["Records"][0]))
    record.update(messageId=f"msg-{n}", body=body)
    return record


def _login_failed(n: int, ip: str = ATTACKER) -> str:
    event = load_event("security/eventbridge-app-event.json")
    event["detail"] = {**event["detail"], "event_id": f"evt-{n}", "source_ip": ip,
                       "timestamp": (NOW - timedelta(minutes=5) + timedelta(seconds=10 * n)).isoformat()}
    return json.dumps(event)


def _analyze(account: dict[str, Any], bodies: list[str]) -> dict[str, Any]:
    result = account["registry"].invoke("security-analyze", {"Records": [_record(n, b) for n, b in enumerate(bodies)]})
    assert result.function_error is None, result.payload
    return result.payload


def _stored_alerts() -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", REGION).scan(TableName="security")["Items"]
    return [item for item in items if item["pk"]["S"].startswith("alert#")]


def test_the_sample_batch_alerts_quarantines_the_malformed_record_and_reports_no_failure(account):
    result = account["registry"].invoke("security-analyze", load_event("security/sqs-batch.json"))
    assert result.function_error is None, result.payload
    assert result.payload == {"batchItemFailures": []}
    (message,) = boto3.client("sqs", REGION).receive_message(
        QueueUrl=account["dlq_url"], MessageAttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
    reason = message["MessageAttributes"][contracts.QUARANTINE_REASON_ATTRIBUTE]["StringValue"]
    assert "timestamp" in reason  # the sample's third record has no timestamp
    assert message["MessageAttributes"]["source_message_id"]["StringValue"].endswith("000000000003")


def test_five_failed_logins_in_one_batch_store_one_alert(account):
    payload = _analyze(account, [_login_failed(n) for n in range(5)])
    assert payload == {"batchItemFailures": []}
    (alert,) = _stored_alerts()
    assert json.loads(alert["alert"]["S"])["entity"] == ATTACKER and alert["published"] == {"BOOL": True}


def test_a_record_that_fails_is_reported_alone_and_the_rest_of_the_batch_proceeds(account):
    boto3.client("dynamodb", REGION).delete_table(TableName="security")  # alerts and tallies cannot be written
    payload = _analyze(account, [_login_failed(0), "{broken"])
    # The good event failed (its tally could not be written): SQS redelivers it. The broken one is quarantined.
    assert payload == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    messages = boto3.client("sqs", REGION).receive_message(QueueUrl=account["dlq_url"], MaxNumberOfMessages=10)
    assert [m["Body"] for m in messages["Messages"]] == ["{broken"]


def test_a_brute_force_alert_blocks_the_ip_in_waf_once_and_a_sweep_before_the_ttl_keeps_it(account):
    alert = load_event("security/alert-brute-force.json")
    alert["detail"] = {**alert["detail"], "timestamp": NOW.isoformat()}
    result = account["registry"].invoke("security-remediate", alert)
    assert result.function_error is None, result.payload
    (action,) = result.payload["actions"]
    assert action["action"] == "block" and action["cidr"] == f"{ATTACKER}/32"
    waf = boto3.client("wafv2", REGION)
    ip_set = account["ip_set"]
    addresses = waf.get_ip_set(Name=ip_set["Name"], Scope="REGIONAL", Id=ip_set["Id"])["IPSet"]["Addresses"]
    assert addresses == [f"{ATTACKER}/32"]
    again = account["registry"].invoke("security-remediate", alert)  # EventBridge delivers twice
    assert again.payload == {"actions": []}
    swept = account["registry"].invoke("security-remediate", load_event("security/scheduled-sweep.json"))
    assert swept.payload == {"actions": []}  # the TTL has not passed
    assert waf.get_ip_set(Name=ip_set["Name"], Scope="REGIONAL", Id=ip_set["Id"])["IPSet"]["Addresses"] == addresses


def test_the_weekly_report_is_written_from_the_stored_alerts_and_tallies(account):
    _analyze(account, [_login_failed(n) for n in range(5)])
    week_start = (NOW - timedelta(minutes=5)).date() - timedelta(days=(NOW - timedelta(minutes=5)).weekday())
    result = account["registry"].invoke("security-report", {"action": "report", "week_start": week_start.isoformat()})
    assert result.function_error is None, result.payload
    assert result.payload["organizations"] == 1
    key = f"{contracts.SECURITY_REPORTS_PREFIX}org-acme/{week_start.isoformat()}.json"
    report = json.loads(boto3.client("s3", REGION).get_object(Bucket="ops-bucket", Key=key)["Body"].read())
    assert report["summary"]["failed_logins"] == 5
    assert report["risk"]["score"] == 10 and report["risk"]["level"] == "low"  # one high alert
    html = boto3.client("s3", REGION).get_object(Bucket="ops-bucket", Key=key.replace(".json", ".html"))
    assert html["ContentType"].startswith("text/html")
