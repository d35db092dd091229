"""The alarm router's stack on the session's shared synth: rule, DLQ, topics, table, scoped IAM."""
from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Match, Template


@pytest.fixture(scope="module")
def alarms(synth) -> dict[str, Any]:
    return synth.template_json(Stack.of(synth.app.node.find_child("ChurnGuardOpsAlarms")))


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _router_policy(template: dict[str, Any]) -> list[dict[str, Any]]:
    (policy,) = [p for p in _of_type(template, "AWS::IAM::Policy").values()
                 if "RouterFunction" in str(p["Properties"]["Roles"])]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_every_alarm_state_change_goes_to_the_router_with_retries_and_a_dlq(synth, alarms):
    template = Template.from_json(alarms)
    template.has_resource_properties("AWS::Events::Rule", {
        "Name": "churnguard-ops-alarm-router",
        "EventPattern": {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]},
        "Targets": [Match.object_like({"DeadLetterConfig": Match.object_like({"Arn": Match.any_value()}),
                                       "RetryPolicy": {"MaximumRetryAttempts": 2,
                                                       "MaximumEventAgeInSeconds": 3600}})]})
    template.has_resource_properties("AWS::Lambda::Function", {
        "FunctionName": "churnguard-ops-alarm-router", "Handler": "app.route"})
    template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 2})


def test_severity_topics_are_encrypted_and_the_idempotency_table_has_ttl_and_a_cmk(alarms):
    topics = _of_type(alarms, "AWS::SNS::Topic").values()
    assert sorted(t["Properties"]["TopicName"] for t in topics) == [
        "churnguard-ops-alerts-critical", "churnguard-ops-alerts-info", "churnguard-ops-alerts-warning"]
    assert all("KmsMasterKeyId" in t["Properties"] for t in topics)
    (table,) = _of_type(alarms, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["Properties"]["SSESpecification"]["SSEType"] == "KMS"


def test_router_invokes_exactly_the_action_functions_and_publishes_only_to_its_topics(alarms):
    statements = {s.get("Sid", f"#{i}"): s for i, s in enumerate(_router_policy(alarms))}
    invoked = statements["InvokeActionFunctions"]
    assert invoked["Action"] == "lambda:InvokeFunction"
    names = sorted(str(r).split(":function:")[-1].rstrip("\"']}") for r in invoked["Resource"])
    assert names == ["churnguard-ops-backup", "churnguard-ops-canary-abort", "churnguard-ops-incidents"]
    assert statements["PublishAlerts"]["Action"] == "sns:Publish" and len(statements["PublishAlerts"]["Resource"]) == 3
    assert "StartConfiguredExecutions" not in statements  # no start_drill/start_execution route by default
    assert statements["ReadAlarmTags"]["Action"] == "cloudwatch:ListTagsForResource"
    everything = [a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                           else s["Action"])]
    assert not [a for a in everything if a.endswith("*")]


def test_start_execution_routes_name_the_only_state_machines_the_router_may_start():
    from infra_cdk.alarms_settings import AlarmsContext
    from infra_cdk.settings import ChurnGuardContext

    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:cleanup"
    ctx = AlarmsContext.model_validate({"routes": [{"name": "r", "match": {"names": ["x-*"]}, "actions": [
        {"action": "start_drill"}, {"action": "start_execution", "params": {"state_machine_arn": arn}}]}]})
    assert ctx.state_machine_arns() == [arn]
    assert ctx.permissions() == {"states:StartExecution"}
    assert ChurnGuardContext.model_validate({"alarms": ctx.model_dump()}).alarms.actions() == {
        "start_drill", "start_execution"}
