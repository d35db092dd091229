"""Wiring of the security stack (ChurnGuardOpsSecurity): event path, tables, remediation, reports, IAM, alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from churnguard_ops.core.contracts import SECURITY_ALERT_DETAIL_TYPE, SECURITY_EVENT_SOURCE, SECURITY_REPORTS_PREFIX

from .infra_helpers import as_list, flat, of_type, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"
HANDLERS = {"analyze": "app.analyze", "remediate": "app.remediate", "report": "app.report"}
COMMON_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.fixture(scope="module")
def functions(security_resources) -> dict[str, tuple[str, dict[str, Any]]]:
    found = {}
    for logical, res in of_type(security_resources, "AWS::Lambda::Function").items():
        name = res["Properties"]["FunctionName"]
        if name.startswith(f"{PREFIX}-security-"):
            found[name.removeprefix(f"{PREFIX}-security-")] = (logical, res["Properties"])
    return found


def _role_id(functions: dict[str, Any], key: str) -> str:
    return functions[key][1]["Role"]["Fn::GetAtt"][0]


def _actions(resources: dict[str, Any], functions: dict[str, Any], key: str) -> set[str]:
    return {a for s in policy_statements(resources, _role_id(functions, key)) for a in as_list(s["Action"])}


def _queue(resources: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in of_type(resources, "AWS::SQS::Queue").items()
                if v["Properties"].get("QueueName") == name]
    return found


def _rule(resources: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [v["Properties"] for v in of_type(resources, "AWS::Events::Rule").values()
                if v["Properties"].get("Name") == name]
    return found


def test_three_functions_with_the_documented_handlers(functions):
    assert {k: props["Handler"] for k, (_, props) in functions.items()} == HANDLERS


def test_app_events_and_cloudtrail_reach_one_queue_with_a_dead_letter_queue(security_resources):
    queue_id, queue = _queue(security_resources, f"{PREFIX}-security-events")
    dlq_id, _ = _queue(security_resources, f"{PREFIX}-security-events-dlq")
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert redrive["maxReceiveCount"] == 5
    # Six times the analyzer's 60 s timeout: a batch in flight is never handed to a second invocation.
    assert queue["Properties"]["VisibilityTimeout"] == 360
    app_rule = _rule(security_resources, f"{PREFIX}-security-app-events")
    assert app_rule["EventPattern"] == {"source": ["churnguard.app"], "detail-type": ["Security Event"]}
    cloudtrail = _rule(security_resources, f"{PREFIX}-security-cloudtrail")
    assert sorted(cloudtrail["EventPattern"]["detail-type"]) == ["AWS API Call via CloudTrail",
                                                                 "AWS Console Sign In via CloudTrail"]
    for rule in (app_rule, cloudtrail):
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}


def test_the_analyzer_drains_the_queue_in_batches_reporting_item_failures(security_resources, functions):
    (mapping,) = of_type(security_resources, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    queue_id, _ = _queue(security_resources, f"{PREFIX}-security-events")
    assert props["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["FunctionName"] == {"Ref": functions["analyze"][0]}
    assert props["BatchSize"] == 100 and props["MaximumBatchingWindowInSeconds"] == 5
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_brute_force_alerts_and_an_hourly_sweep_reach_the_remediation_function(security_resources, functions):
    rule = _rule(security_resources, f"{PREFIX}-security-remediation")
    assert rule["EventPattern"] == {"source": [SECURITY_EVENT_SOURCE], "detail-type": [SECURITY_ALERT_DETAIL_TYPE],
                                    "detail": {"detector": ["brute_force_login", "console_brute_force"]}}
    sweep = _rule(security_resources, f"{PREFIX}-security-sweep")
    assert sweep["ScheduleExpression"] == "rate(1 hour)"
    assert json.loads(sweep["Targets"][0]["Input"]) == {"action": "sweep"}
    report = _rule(security_resources, f"{PREFIX}-security-report")
    assert report["ScheduleExpression"] == "cron(0 6 ? * MON *)"
    assert json.loads(report["Targets"][0]["Input"]) == {"action": "report"}
    for props, key in ((rule, "remediate"), (sweep, "remediate"), (report, "report")):
        (target,) = props["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [functions[key][0], "Arn"]}
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] >= 2


def test_tables_are_encrypted_with_a_customer_key_point_in_time_recovered_and_expire_by_ttl(security_resources):
    tables = {v["Properties"]["TableName"]: v["Properties"] for v in of_type(security_resources,
                                                                              "AWS::DynamoDB::Table").values()}
    assert set(tables) == {f"{PREFIX}-security-state", f"{PREFIX}-security"}
    assert [k["AttributeName"] for k in tables[f"{PREFIX}-security-state"]["KeySchema"]] == ["pk"]
    assert [k["AttributeName"] for k in tables[f"{PREFIX}-security"]["KeySchema"]] == ["pk", "sk"]
    for props in tables.values():
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
        assert props["SSESpecification"]["SSEType"] == "KMS" and props["SSESpecification"]["SSEEnabled"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]


def test_each_role_holds_exactly_what_its_function_calls(security_resources, functions):
    async_dlq = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    key = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
    expected = {
        "analyze": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", *key, "sqs:SendMessage",
                    "events:PutEvents", "sns:Publish",
                    # the SQS event source mapping polls the queue with the function's role
                    "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes"},
        "remediate": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", *key,
                      "wafv2:GetIPSet", "wafv2:UpdateIPSet", "events:PutEvents", "sns:Publish", *async_dlq},
        "report": {"dynamodb:Query", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "s3:PutObject",
                   "sns:Publish", *async_dlq},
    }
    for name, actions in expected.items():
        assert _actions(security_resources, functions, name) - COMMON_ACTIONS == actions, name


def test_only_the_remediation_role_touches_waf_and_only_the_blocked_ip_set(security_resources, functions):
    (ip_set_id, ip_set), = of_type(security_resources, "AWS::WAFv2::IPSet").items()
    assert ip_set["Properties"]["Addresses"] == [] and ip_set["Properties"]["Scope"] == "REGIONAL"
    for name in functions:
        for statement in policy_statements(security_resources, _role_id(functions, name)):
            if any(a.startswith("wafv2:") for a in as_list(statement["Action"])):
                assert name == "remediate"
                assert statement["Resource"] == {"Fn::GetAtt": [ip_set_id, "Arn"]}


def test_the_report_role_writes_only_under_the_reports_prefix(security_resources, functions):
    (statement,) = [s for s in policy_statements(security_resources, _role_id(functions, "report"))
                    if "s3:PutObject" in as_list(s["Action"])]
    assert flat(statement["Resource"]).endswith(f"/{SECURITY_REPORTS_PREFIX}*")


def test_the_analyzer_environment_names_its_tables_queue_and_detectors(functions):
    from churnguard_ops.security.settings import SecuritySettings

    env = functions["analyze"][1]["Environment"]["Variables"]
    read = {f"SECURITY_{name.upper()}" for name in SecuritySettings.model_fields}
    security_env = {k for k in env if k.startswith("SECURITY_")}
    assert security_env <= read
    required = {f"SECURITY_{n.upper()}" for n, f in SecuritySettings.model_fields.items() if f.is_required()}
    assert required <= security_env
    detectors = {spec["detector"]: spec["params"] for spec in json.loads(env["SECURITY_DETECTORS"])}
    assert "brute_force_login" in detectors and "snapshot_shared_externally" in detectors
    # Our own backup and drill roles may delete our snapshots without a backup_tampering alert.
    assert detectors["backup_tampering"]["backup_role_arn_patterns"] == [
        f"arn:aws:iam::*:role/{PREFIX}-backup-*", f"arn:aws:iam::*:role/{PREFIX}-drill-*"]
    assert json.loads(env["SECURITY_REMEDIATION"]) == {"dry_run": True}


def test_analyzer_errors_dlq_messages_and_a_backlog_alarm_the_ops_topic(security_resources):
    alarms = {v["Properties"]["AlarmName"]: v["Properties"] for v in of_type(security_resources,
                                                                              "AWS::CloudWatch::Alarm").values()}
    for name in ("analyzer-errors", "events-dlq", "events-backlog", "remediation-errors", "remediation-dlq",
                 "report-errors"):
        props = alarms[f"{PREFIX}-security-{name}"]
        assert props["AlarmActions"], name
    assert alarms[f"{PREFIX}-security-events-backlog"]["MetricName"] == "ApproximateAgeOfOldestMessage"
