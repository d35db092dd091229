"""The real performance handlers on moto (in-process), wired as deployed: a check that alerts once on
EventBridge and the ops topic and then not again, and a report written to S3 on demand."""
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

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def _drain(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs", REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for m in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return [m["Body"] for m in messages]


@pytest.fixture
def account(moto_aws: None) -> dict[str, Any]:
    boto3.client("dynamodb", REGION).create_table(
        TableName="perf-alerts", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    boto3.client("s3", REGION).create_bucket(Bucket="ops-bucket")
    sqs = boto3.client("sqs", REGION)
    alerts_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    topic_url = sqs.create_queue(QueueName="topic")["QueueUrl"]
    arn = {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
           for url in (alerts_url, topic_url)}
    events = boto3.client("events", REGION)
    events.put_rule(Name="perf-alerts", EventPattern=json.dumps({"source": [contracts.PERFORMANCE_EVENT_SOURCE]}))
    events.put_targets(Rule="perf-alerts", Targets=[{"Id": "q", "Arn": arn[alerts_url]}])
    sns = boto3.client("sns", REGION)
    topic = sns.create_topic(Name="ops")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn[topic_url],
                  Attributes={"RawMessageDelivery": "true"})
    env = {"POWERTOOLS_SERVICE_NAME": "performance", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
           "PERFORMANCE_TARGETS": json.dumps({"api": None, "functions": [], "queues": ["scoring"],
                                                     "databases": []}),
           "PERFORMANCE_STATE_TABLE": "perf-alerts", "PERFORMANCE_REPORTS_BUCKET": "ops-bucket",
           "PERFORMANCE_TOPIC_ARN": topic}
    registry = LambdaRegistry(default_region=REGION)
    for name in ("check", "report"):
        registry.register(f"performance-{name}", f"app.{name}", code_dir=ROOT / "functions" / "performance",
                          environment=env)
    return {"registry": registry, "alerts": alerts_url, "topic": topic_url}


def _put(name: str, values: dict[datetime, float]) -> None:
    boto3.client("cloudwatch", REGION).put_metric_data(Namespace="AWS/SQS", MetricData=[
        {"MetricName": name, "Dimensions": [{"Name": "QueueName", "Value": "scoring"}], "Timestamp": t,
         "Value": v} for t, v in values.items()])


def _invoke(account: dict[str, Any], name: str, event: dict[str, Any]) -> dict[str, Any]:
    result = account["registry"].invoke(name, event)
    assert result.function_error is None, result.payload
    return result.payload


def test_a_breach_alerts_once_on_eventbridge_and_the_ops_topic(account: dict[str, Any]) -> None:
    now = datetime.now(timezone.utc)
    recent = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) - timedelta(seconds=150)
    _put("ApproximateNumberOfMessagesVisible", {recent: 125.0})  # 125 / 100 = 1.25: high
    _put("ApproximateAgeOfOldestMessage", {recent: 60.0})  # under 300 s
    first = _invoke(account, "performance-check", load_event("performance/scheduled-check.json"))
    assert first["breaching"] == {"sqs_depth#scoring": "high"} and first["cloudwatch_calls"] == 1
    alerts = [(a["transition"], a["key"], a["severity"]) for a in first["alerts"]]
    assert alerts == [("breach", "sqs_depth#scoring", "high")]
    [body] = _drain(account["alerts"])
    event = json.loads(body)
    assert event["detail-type"] == contracts.PERFORMANCE_ALERT_DETAIL_TYPE
    assert event["detail"]["ratio"] == 1.25 and event["detail"]["resource"] == "scoring"
    [message] = _drain(account["topic"])
    assert "HIGH SQS messages visible scoring: 125.00 messages = 1.25x the threshold 100.00 messages" in message
    second = _invoke(account, "performance-check", load_event("performance/scheduled-check.json"))
    assert second["breaching"] == {"sqs_depth#scoring": "high"} and second["alerts"] == []
    assert _drain(account["alerts"]) == [] and _drain(account["topic"]) == []


def test_an_on_demand_report_over_two_hours_goes_to_s3(account: dict[str, Any]) -> None:
    end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    _put("ApproximateNumberOfMessagesVisible",
         {end - timedelta(minutes=m): v for m, v in ((150, 40.0), (90, 50.0), (30, 112.0))})
    headline = _invoke(account, "performance-report", {"hours": 2, "end": end.isoformat()})
    assert headline["hours"] == 2 and headline["breaching"] == {"sqs_depth#scoring": "medium"}  # 112 / 100 = 1.12
    key = headline["reports"]["json"].removeprefix("s3://ops-bucket/")
    assert key == f"{contracts.PERFORMANCE_REPORTS_PREFIX}{end:%Y%m%dT%H%MZ}_2h/report.json"
    report = json.loads(boto3.client("s3", REGION).get_object(Bucket="ops-bucket", Key=key)["Body"].read())
    depth = next(m for m in report["metrics"] if m["key"] == "sqs_depth#scoring")
    assert (depth["current"]["average"], depth["previous"]["average"], depth["trend"]["delta"]) == (81.0, 40.0, 41.0)
    assert [(r["kind"], r["statistic"]) for r in report["recommendations"]] == [("sqs_depth", "maximum")]
