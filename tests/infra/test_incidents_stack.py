"""Wiring of the incidents stack (ChurnGuardOpsIncidents): one function on a schedule, the encrypted table with
its status index, the escalation topic, least-privilege IAM, alarms, and no unsuppressed cdk-nag error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from churnguard_ops.core.contracts import (
    INCIDENT_POSTMORTEMS_PREFIX,
    INCIDENTS_EVENT_SOURCE,
    INCIDENTS_STATUS_INDEX,
    INCIDENTS_TTL_ATTRIBUTE,
)

from .infra_helpers import as_list, flat, of_type, only, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"


@pytest.fixture(scope="module")
def stack(synth) -> Any:
    return synth.app.node.find_child("ChurnGuardOpsIncidents")


@pytest.fixture(scope="module")
def resources(synth, stack) -> dict[str, Any]:
    return synth.template_json(stack)["Resources"]


@pytest.fixture(scope="module")
def function(resources) -> tuple[str, dict[str, Any]]:
    return only(resources, "AWS::Lambda::Function")


@pytest.fixture(scope="module")
def statements(resources, function) -> list[dict[str, Any]]:
    return list(policy_statements(resources, function[1]["Properties"]["Role"]["Fn::GetAtt"][0]))


def test_the_function_is_named_by_the_contract_and_swept_every_minute_with_a_dlq(resources, function):
    logical_id, fn = function
    assert fn["Properties"]["FunctionName"] == f"{PREFIX}-incidents"
    assert fn["Properties"]["Handler"] == "app.handle"
    (rule,) = of_type(resources, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    assert "Input" not in target and "DeadLetterConfig" in target  # EventBridge's scheduled event means sweep


def test_the_table_is_encrypted_with_pitr_ttl_and_a_status_index(resources):
    _, table = only(resources, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["SSESpecification"]["SSEType"] == "KMS" and "KMSMasterKeyId" in props["SSESpecification"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": INCIDENTS_TTL_ATTRIBUTE, "Enabled": True}
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == INCIDENTS_STATUS_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "opened_at"]
    assert table["DeletionPolicy"] == "Retain"


def test_the_escalation_topic_is_encrypted_and_given_to_the_function(resources, function):
    (logical_id, topic), = of_type(resources, "AWS::SNS::Topic").items()
    assert topic["Properties"]["TopicName"] == f"{PREFIX}-incidents-escalation"
    assert "KmsMasterKeyId" in topic["Properties"]
    env = function[1]["Properties"]["Environment"]["Variables"]
    assert env["INCIDENTS_ESCALATION_TOPIC_ARN"] == {"Ref": logical_id}


def test_the_function_carries_the_context(function):
    env = function[1]["Properties"]["Environment"]["Variables"]
    assert env["INCIDENTS_GROUP_WINDOW_MINUTES"] == "15" and env["INCIDENTS_AUTO_RESOLVE_MINUTES"] == "10"
    assert json.loads(env["INCIDENTS_ESCALATE_AFTER_MINUTES"]) == {"critical": 5, "warning": 30, "info": None}
    assert env["INCIDENTS_RETENTION_DAYS"] == "90"
    assert {"INCIDENTS_TABLE", "INCIDENTS_BUCKET", "INCIDENTS_KMS_KEY_ARN"} <= set(env)


def test_iam_is_scoped_to_the_table_the_postmortem_prefix_the_topic_and_its_own_event_source(statements):
    on_star = {a for s in statements if "*" in as_list(s["Resource"]) for a in as_list(s["Action"])}
    assert on_star <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert {a for s in dynamo for a in as_list(s["Action"])} == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}
    assert all("IncidentsTable" in flat(r) for s in dynamo for r in as_list(s["Resource"]))
    (put,) = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
    assert [flat(r).endswith(f"/{INCIDENT_POSTMORTEMS_PREFIX}*") for r in as_list(put["Resource"])] == [True]
    assert not any(a.startswith("s3:") and a != "s3:PutObject" for s in statements for a in as_list(s["Action"]))
    (publish,) = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
    assert "EscalationTopic" in flat(publish["Resource"])
    (events,) = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
    assert events["Condition"] == {"StringEquals": {"events:source": INCIDENTS_EVENT_SOURCE}}


def test_errors_and_dlq_alarms_notify_the_ops_topic(resources):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"{PREFIX}-incidents-errors", f"{PREFIX}-incidents-dlq"}
    assert all(a["AlarmActions"] for a in alarms.values())


def test_the_stack_is_tagged_and_has_no_unsuppressed_cdk_nag_error(synth, stack, resources):
    from aws_cdk.assertions import Annotations, Match

    _, table = only(resources, "AWS::DynamoDB::Table")
    assert {"Key": "Capability", "Value": "incidents"} in table["Properties"]["Tags"]
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []
