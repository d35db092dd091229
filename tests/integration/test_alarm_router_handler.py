"""The alarm router on moto: its adapters, Powertools idempotency in DynamoDB, and the handler end to end.

One in-process moto for the module; each test makes its own uniquely named resources."""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from churnguard_ops.alarms.adapters import CloudWatchAlarmTags, DynamoActionLedger, LambdaInvoker, StepFunctionsStarter
from churnguard_ops.core import aws
from churnguard_ops.core.errors import NotFound
from opsctl.local.lambda_runtime import LambdaRegistry
from tests.events import load_event

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
PREFIX = "churnguard-ops"
ROLE = "arn:aws:iam::123456789012:role/sfn"
_unique = itertools.count()


@pytest.fixture(scope="module")
def moto_module() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": REGION}.items():
            mp.setenv(key, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        aws.reset_clients()
        with mock_aws():
            yield
        aws.reset_clients()


@pytest.fixture
def n(moto_module: None) -> int:
    return next(_unique)


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _table(n: int) -> str:
    name = f"idem-{n}"
    boto3.client("dynamodb", REGION).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=[{"AttributeName": "id",
                                                                              "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    return name


def _state_machine(n: int) -> str:
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    return boto3.client("stepfunctions", REGION).create_state_machine(
        name=f"cleanup-{n}", definition=definition, roleArn=ROLE)["stateMachineArn"]


def _topic_queue(n: int, severity: str) -> tuple[str, str]:
    topic = f"arn:aws:sns:{REGION}:123456789012:{PREFIX}-{n}-alerts-{severity}"
    sqs = boto3.client("sqs", REGION)
    url = sqs.create_queue(QueueName=f"alerts-{n}-{severity}")["QueueUrl"]
    return topic, url


def _subscribe(topic: str, url: str) -> None:
    boto3.client("sns", REGION).create_topic(Name=topic.rsplit(":", 1)[-1])
    arn = boto3.client("sqs", REGION).get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    boto3.client("sns", REGION).subscribe(TopicArn=topic, Protocol="sqs",
                                          Endpoint=arn["Attributes"]["QueueArn"])


def _messages(url: str) -> list[dict[str, Any]]:
    got = boto3.client("sqs", REGION).receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_alarm_tags_are_read_from_cloudwatch(n):
    alarm = f"churnguard-HighErrorRate-{n}"
    cloudwatch = boto3.client("cloudwatch", REGION)
    cloudwatch.put_metric_alarm(AlarmName=alarm, MetricName="ErrorRate", Namespace="ChurnGuard/Api",
                                Statistic="Average", Period=60, EvaluationPeriods=5, Threshold=5,
                                ComparisonOperator="GreaterThanThreshold",
                                Tags=[{"Key": "Severity", "Value": "critical"},
                                      {"Key": "IncidentGroup", "Value": "api"}])
    arn = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    assert CloudWatchAlarmTags(REGION).tags(arn) == {"Severity": "critical", "IncidentGroup": "api"}


def test_a_missing_function_is_not_found_so_abort_release_can_skip_it(n):
    with pytest.raises(NotFound, match="churnguard-ops-canary-abort"):
        LambdaInvoker(REGION).invoke("churnguard-ops-canary-abort", {"abort_release": {}})


def test_the_same_execution_name_started_twice_is_one_execution(n):
    arn = _state_machine(n)
    starter = StepFunctionsStarter(REGION)
    first = starter.start(arn, "alarm-exec-1", {"x": 1})
    assert starter.start(arn, "alarm-exec-1", {"x": 1}) == first
    assert len(boto3.client("stepfunctions", REGION).list_executions(stateMachineArn=arn)["executions"]) == 1


def test_dynamodb_ledger_runs_once_per_key_and_forgets_a_failed_run(n, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"{PREFIX}-alarm-router")
    ledger = DynamoActionLedger(_table(n), 3600, REGION)
    ledger.register_context(_Context())
    runs: list[str] = []

    def ok() -> dict[str, Any]:
        runs.append("ok")
        return {"detail": "done"}

    def boom() -> dict[str, Any]:
        runs.append("boom")
        raise RuntimeError("throttled")

    assert ledger.once("e1:r:0:notify", ok) == ({"detail": "done"}, False)
    assert ledger.once("e1:r:0:notify", ok) == ({"detail": "done"}, True)
    with pytest.raises(RuntimeError):
        ledger.once("e1:r:1:start_backup", boom)
    assert ledger.once("e1:r:1:start_backup", ok) == ({"detail": "done"}, False)
    assert runs == ["ok", "boom", "ok"]


@pytest.fixture
def router(n) -> dict[str, Any]:
    alarm = f"churnguard-HighErrorRate-{n}"
    queues = {s: _topic_queue(n, s) for s in ("critical", "warning", "info")}
    machine = _state_machine(n)
    routes = [{"name": "application", "match": {"names": ["churnguard-*"], "tags": {"Severity": "*"}},
               "actions": [{"action": "notify"},
                           {"action": "start_execution", "params": {"state_machine_arn": machine,
                                                                    "input": {"why": "alarm"}}}]}]
    env = {"POWERTOOLS_SERVICE_NAME": "alarms", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
           "ALARMS_PREFIX": f"{PREFIX}-{n}", "ALARMS_ROUTES": json.dumps(routes), "ALARMS_IDEMPOTENCY_TABLE": _table(n),
           "ALARMS_TOPIC_ARNS": json.dumps({s: topic for s, (topic, _) in queues.items()})}
    cloudwatch = boto3.client("cloudwatch", REGION)
    cloudwatch.put_metric_alarm(AlarmName=alarm, MetricName="ErrorRate", Namespace="ChurnGuard/Api",
                                Statistic="Average", Period=60, EvaluationPeriods=5, Threshold=5,
                                ComparisonOperator="GreaterThanThreshold",
                                Tags=[{"Key": "Severity", "Value": "critical"}, {"Key": "Team", "Value": "platform"},
                                      {"Key": "Runbook", "Value": "https://runbooks.example.com/high-error-rate"}])
    registry = LambdaRegistry(default_region=REGION)
    registry.register(f"{PREFIX}-alarm-router", "app.route", code_dir=ROOT / "functions" / "alarms", environment=env)
    arn = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    event = load_event("alarms/state-change-alarm.json", resources=[arn])
    event["detail"] = {**event["detail"], "alarmName": alarm}
    return {"registry": registry, "queues": queues, "machine": machine, "event": event, "alarm": alarm}


def test_handler_raises_when_the_topic_is_missing_then_a_redelivery_reruns_only_notify(router):
    topic, url = router["queues"]["critical"]
    first = router["registry"].invoke(f"{PREFIX}-alarm-router", router["event"])
    assert first.function_error == "Unhandled"
    assert "ActionsFailed" in json.dumps(first.payload) and "notify" in json.dumps(first.payload)
    executions = boto3.client("stepfunctions", REGION).list_executions(stateMachineArn=router["machine"])
    assert len(executions["executions"]) == 1  # the other action still ran

    _subscribe(topic, url)
    again = router["registry"].invoke(f"{PREFIX}-alarm-router", router["event"])
    assert again.function_error is None, again.payload
    outcomes = {o["action"]: o for o in again.payload["outcomes"]}
    assert outcomes["notify"]["ok"] and not outcomes["notify"]["replayed"]
    assert outcomes["start_execution"]["replayed"]
    (message,) = _messages(url)
    assert message["Subject"] == f"[CRITICAL] {router['alarm']} is ALARM"
    assert "https://runbooks.example.com/high-error-rate" in message["Message"]

    third = router["registry"].invoke(f"{PREFIX}-alarm-router", router["event"])
    assert third.function_error is None and all(o["replayed"] for o in third.payload["outcomes"])
    assert _messages(url) == []
