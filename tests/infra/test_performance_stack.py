"""Wiring of the performance stack (ChurnGuardOpsPerformance): two scheduled functions, the encrypted dedup
table, least-privilege IAM and alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from churnguard_ops.core.contracts import PERFORMANCE_EVENT_SOURCE, PERFORMANCE_REPORTS_PREFIX

from .infra_helpers import as_list, flat, of_type, only, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"


@pytest.fixture(scope="module")
def stack(synth) -> Any:
    return synth.app.node.find_child("ChurnGuardOpsPerformance")


@pytest.fixture(scope="module")
def resources(synth, stack) -> dict[str, Any]:
    return synth.template_json(stack)["Resources"]


def _function(resources: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in of_type(resources, "AWS::Lambda::Function").items()
                if v["Properties"]["Handler"] == handler]
    return found


def _statements(resources: dict[str, Any], handler: str) -> list[dict[str, Any]]:
    role = _function(resources, handler)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return list(policy_statements(resources, role))


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in as_list(s["Action"])}


def test_the_check_runs_every_5_minutes_and_the_report_daily_on_scheduled_events_with_dlqs(resources):
    rules = {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()}
    assert rules[f"{PREFIX}-performance-check"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rules[f"{PREFIX}-performance-report"]["ScheduleExpression"] == "cron(30 6 * * ? *)"
    for name, handler in (("check", "app.check"), ("report", "app.report")):
        (target,) = rules[f"{PREFIX}-performance-{name}"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [_function(resources, handler)[0], "Arn"]}
        assert "Input" not in target  # the function gets EventBridge's scheduled event itself
        assert "DeadLetterConfig" in target


def test_the_dedup_table_is_encrypted_with_the_ops_key_with_pitr_and_ttl(resources):
    _, table = only(resources, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
    assert "KMSMasterKeyId" in props["SSESpecification"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_only_get_metric_data_is_granted_on_star(resources):
    for handler in ("app.check", "app.report"):
        on_star = {a for s in _statements(resources, handler) if "*" in as_list(s["Resource"])
                   for a in as_list(s["Action"])}
        assert on_star - {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} == {"cloudwatch:GetMetricData"}


def test_database_classes_are_read_for_the_watched_instances_only(resources):
    for handler in ("app.check", "app.report"):
        (statement,) = [s for s in _statements(resources, handler)
                        if "rds:DescribeDBInstances" in as_list(s["Action"])]
        assert [flat(r).rsplit(":", 1)[1] for r in as_list(statement["Resource"])] == ["churnguard-prod"]


def test_the_check_writes_only_its_table_and_alerts_with_its_own_source(resources):
    statements = _statements(resources, "app.check")
    (table,) = [s for s in statements if "dynamodb:PutItem" in as_list(s["Action"])]
    assert set(as_list(table["Action"])) == {"dynamodb:Scan", "dynamodb:PutItem"}
    assert "AlertStateTable" in flat(table["Resource"])
    (put_events,) = [s for s in statements if "events:PutEvents" in as_list(s["Action"])]
    assert flat(put_events["Resource"]).endswith(":event-bus/default")
    assert put_events["Condition"] == {"StringEquals": {"events:source": PERFORMANCE_EVENT_SOURCE}}
    assert not any(a.startswith("s3:") for a in _actions(statements))


def test_the_report_writes_only_under_its_prefix_and_touches_no_table(resources):
    statements = _statements(resources, "app.report")
    (put,) = [s for s in statements if "s3:PutObject" in as_list(s["Action"])]
    assert [flat(r).endswith(f"/{PERFORMANCE_REPORTS_PREFIX}*") for r in as_list(put["Resource"])] == [True]
    assert not any(a.startswith(("dynamodb:", "events:")) for a in _actions(statements))
    assert "sns:Publish" in _actions(statements)


def test_the_functions_carry_the_context_and_their_resources(resources):
    env = _function(resources, "app.check")[1]["Properties"]["Environment"]["Variables"]
    assert json.loads(env["PERFORMANCE_TARGETS"])["databases"] == ["churnguard-prod"]
    assert json.loads(env["PERFORMANCE_THRESHOLDS"])["api_latency_p99"] == 2000.0
    assert {"PERFORMANCE_STATE_TABLE", "PERFORMANCE_REPORTS_BUCKET", "PERFORMANCE_KMS_KEY_ARN",
            "PERFORMANCE_TOPIC_ARN"} <= set(env)


def test_errors_and_dlq_alarms_for_both_functions_notify_the_ops_topic(resources):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"{PREFIX}-performance-{f}-{k}" for f in ("check", "report") for k in ("errors", "dlq")}
    assert all(a["AlarmActions"] for a in alarms.values())


def test_the_stack_is_tagged_with_its_capability(synth, stack):
    template = synth.template_json(stack)
    _, table = only(template["Resources"], "AWS::DynamoDB::Table")
    assert {"Key": "Capability", "Value": "performance"} in table["Properties"]["Tags"]
