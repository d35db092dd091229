"""The real incidents handler on moto (in-process), wired as deployed: the router's commands from the samples,
the operators' commands, the sweep (escalation once, auto-resolve, postmortem in S3, EMF) and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from churnguard_ops.core import contracts
from opsctl.local.lambda_runtime import LambdaRegistry
from tests.events import load_event
from tests.integration.test_incident_store import create_incidents_table, in_process_moto

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
INCIDENT = "inc-20261130-100000-3d0b2f1e"

moto_module = pytest.fixture(scope="module", name="moto_module")(in_process_moto)


@pytest.fixture(scope="module")
def shared(moto_module: None) -> dict[str, Any]:
    """The bucket, key and escalation topic (read through a queue) every test's function uses."""
    boto3.client("s3", REGION).create_bucket(Bucket="ops-bucket")
    key = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    sqs = boto3.client("sqs", REGION)
    pages = sqs.create_queue(QueueName="pages")["QueueUrl"]
    pages_arn = sqs.get_queue_attributes(QueueUrl=pages, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = boto3.client("sns", REGION)
    topic = sns.create_topic(Name="escalation")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=pages_arn, Attributes={"RawMessageDelivery": "true"})
    return {"key": key, "topic": topic, "pages": pages}


@pytest.fixture
def account(shared: dict[str, Any]) -> dict[str, Any]:
    """The function on a fresh table (so each test starts with no incidents)."""
    key, topic, pages = shared["key"], shared["topic"], shared["pages"]
    env = {"POWERTOOLS_SERVICE_NAME": "incidents", "POWERTOOLS_METRICS_NAMESPACE": contracts.METRICS_NAMESPACE,
           "INCIDENTS_TABLE": create_incidents_table(), "INCIDENTS_BUCKET": "ops-bucket", "INCIDENTS_KMS_KEY_ARN": key,
           "INCIDENTS_ESCALATION_TOPIC_ARN": topic, "INCIDENTS_ESCALATE_AFTER_MINUTES": '{"critical": 0}',
           "INCIDENTS_AUTO_RESOLVE_MINUTES": "0"}
    registry = LambdaRegistry(default_region=REGION)
    registry.register("incidents", "app.handle", code_dir=ROOT / "functions" / "incidents", environment=env)
    return {"registry": registry, "pages": pages}


def _invoke(account: dict[str, Any], event: dict[str, Any]) -> Any:
    result = account["registry"].invoke("incidents", event)
    assert result.function_error is None, result.payload
    return result


def _pages(account: dict[str, Any]) -> list[str]:
    return [m["Body"] for m in boto3.client("sqs", REGION).receive_message(
        QueueUrl=account["pages"], MaxNumberOfMessages=10).get("Messages", [])]


def test_an_incident_from_the_samples_through_escalation_ack_note_and_resolve(account):
    opened = _invoke(account, load_event("incidents/alarm-state-change-alarm.json")).payload
    assert opened == {"incident_id": INCIDENT, "outcome": "opened", "status": "open"}
    again = _invoke(account, load_event("incidents/alarm-state-change-alarm.json")).payload
    assert again["outcome"] == "ignored"
    assert _invoke(account, load_event("incidents/record-actions.json")).payload == {
        "incident_id": INCIDENT, "recorded": 2}

    sweep = _invoke(account, load_event("incidents/scheduled-sweep.json"))
    assert sweep.payload == {"active": 1, "escalated": [INCIDENT], "resolved": []}
    assert [r["IncidentsOpen"] for r in sweep.emf_records if "IncidentsOpen" in r] == [[1.0]]
    assert _invoke(account, {"command": "sweep"}).payload["escalated"] == []  # paged once
    (page,) = _pages(account)
    assert INCIDENT in page and "opsctl incident ack" in page

    ack = _invoke(account, load_event("incidents/ack.json"))
    assert ack.payload["status"] == "acknowledged"
    (tta,) = [r for r in ack.emf_records if "TimeToAcknowledge" in r]
    assert tta["Severity"] == "critical"
    _invoke(account, load_event("incidents/note.json"))
    resolved = _invoke(account, load_event("incidents/resolve.json"))
    assert resolved.payload["postmortem"] == f"s3://ops-bucket/{contracts.INCIDENT_POSTMORTEMS_PREFIX}{INCIDENT}.md"
    assert [r["Severity"] for r in resolved.emf_records if "TimeToResolve" in r] == ["critical"]

    shown = _invoke(account, {"command": "show", "incident_id": INCIDENT}).payload
    assert shown["incident"]["resolved_by"] == "alice" and shown["incident"]["escalated"] is True
    assert [e["kind"] for e in shown["timeline"]] == [
        "opened", "notification", "action", "escalation", "ack", "note", "resolved"]
    s3 = boto3.client("s3", REGION).get_object(Bucket="ops-bucket",
                                                Key=f"{contracts.INCIDENT_POSTMORTEMS_PREFIX}{INCIDENT}.md")
    assert s3["ServerSideEncryption"] == "aws:kms"
    draft = s3["Body"].read().decode()
    assert "## Follow-ups" in draft and "rolled back v42" in draft and "fixed by rollback" in draft
    listed = _invoke(account, {"command": "list", "status": "resolved"}).payload["incidents"]
    assert [i["incident_id"] for i in listed] == [INCIDENT]


def test_alarms_clearing_resolve_the_incident_on_the_next_sweep(account):
    _invoke(account, load_event("incidents/alarm-state-change-alarm.json"))
    assert _invoke(account, load_event("incidents/alarm-state-change-ok.json")).payload["outcome"] == "updated"
    swept = _invoke(account, {"command": "sweep"}).payload
    assert swept == {"active": 0, "escalated": [], "resolved": [INCIDENT]}
    shown = _invoke(account, {"command": "show", "incident_id": INCIDENT}).payload
    assert shown["incident"]["resolved_by"] == "auto" and shown["incident"]["postmortem"]
    assert _invoke(account, {"command": "list"}).payload == {"incidents": []}


@pytest.mark.parametrize(("event", "error"), [
    ({"command": "show", "incident_id": "inc-nope"}, "no incident inc-nope"),
    ({"command": "explode"}, "unknown command 'explode'"),
    ({"command": "resolve", "incident_id": INCIDENT, "by": "a"}, "resolve: reason: Field required"),
])
def test_a_command_the_function_cannot_act_on_is_answered_with_one_error_line(account, event, error):
    payload = _invoke(account, event).payload
    assert set(payload) == {"error"} and error in payload["error"]


def test_ack_of_a_resolved_incident_is_an_error(account):
    _invoke(account, load_event("incidents/alarm-state-change-alarm.json"))
    _invoke(account, load_event("incidents/resolve.json"))
    payload = _invoke(account, load_event("incidents/ack.json")).payload
    assert payload == {"error": f"incident {INCIDENT} is resolved; there is nothing to acknowledge"}


def test_events_on_the_bus_use_the_incidents_source(account):
    events = boto3.client("events", REGION)
    sqs = boto3.client("sqs", REGION)
    queue = sqs.create_queue(QueueName="incident-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="incidents", EventPattern=json.dumps({"source": [contracts.INCIDENTS_EVENT_SOURCE]}))
    events.put_targets(Rule="incidents", Targets=[{"Id": "q", "Arn": arn}])
    _invoke(account, load_event("incidents/alarm-state-change-alarm.json"))
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Incident Opened" and event["detail"]["incident_id"] == INCIDENT
