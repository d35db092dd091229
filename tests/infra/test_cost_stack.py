"""Wiring of the cost stack (ChurnGuardOpsCost): the weekly report function, its schedule, IAM and alarms."""

from __future__ import annotations

import json

import pytest

from churnguard_ops.core.contracts import COST_CACHE_PREFIX, COST_REPORTS_PREFIX

from .infra_helpers import as_list, flat, of_type, only, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"
READ_ONLY_ON_STAR = {"ce:GetCostAndUsage", "cloudwatch:GetMetricData", "ec2:DescribeInstances", "ec2:DescribeVolumes",
                     "rds:DescribeDBInstances", "pricing:GetProducts", "xray:PutTraceSegments",
                     "xray:PutTelemetryRecords"}


@pytest.fixture(scope="module")
def function(cost_resources):
    return only(cost_resources, "AWS::Lambda::Function")


def _statements(cost_resources, function):
    return list(policy_statements(cost_resources, function[1]["Properties"]["Role"]["Fn::GetAtt"][0]))


def test_a_weekly_schedule_runs_the_report_with_retries_and_a_dlq(cost_resources, function):
    (rule,) = of_type(cost_resources, "AWS::Events::Rule").values()
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 7 ? * MON *)"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function[0], "Arn"]}
    assert json.loads(target["Input"]) == {"action": "report"}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert function[1]["Properties"]["Handler"] == "app.report"


def test_only_read_only_actions_without_resource_level_permissions_are_granted_on_star(cost_resources, function):
    on_star = {a for s in _statements(cost_resources, function) if "*" in as_list(s["Resource"])
               for a in as_list(s["Action"])}
    assert on_star <= READ_ONLY_ON_STAR
    assert {"ce:GetCostAndUsage", "cloudwatch:GetMetricData", "pricing:GetProducts"} <= on_star
    writes = {a for s in _statements(cost_resources, function) for a in as_list(s["Action"])
              if a.split(":")[1].startswith(("Put", "Delete", "Update", "Create", "Modify", "Terminate"))}
    assert writes == {"s3:PutObject", "logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments",
                      "xray:PutTelemetryRecords"}


def test_reports_and_the_cost_explorer_cache_are_the_only_objects_it_writes(cost_resources, function):
    (statement,) = [s for s in _statements(cost_resources, function) if "s3:PutObject" in as_list(s["Action"])]
    resources = sorted(flat(r) for r in as_list(statement["Resource"]))
    assert len(resources) == 2
    assert resources[0].endswith(f"/{COST_CACHE_PREFIX}*") and resources[1].endswith(f"/{COST_REPORTS_PREFIX}*")


def test_the_function_knows_its_bucket_key_topic_and_lookback(function):
    env = function[1]["Properties"]["Environment"]["Variables"]
    from churnguard_ops.cost.settings import CostSettings

    read = {f"COST_{name.upper()}" for name in CostSettings.model_fields}
    assert {k for k in env if k.startswith("COST_")} <= read
    assert {"COST_REPORTS_BUCKET", "COST_KMS_KEY_ARN", "COST_TOPIC_ARN"} <= set(env)
    assert env["COST_LOOKBACK_DAYS"] == "14" and env["COST_MIN_POINTS"] == "30"


def test_errors_and_the_dlq_alarm_the_ops_topic(cost_resources):
    alarms = {v["Properties"]["AlarmName"]: v["Properties"] for v in of_type(cost_resources,
                                                                              "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"{PREFIX}-cost-report-errors", f"{PREFIX}-cost-report-dlq"}
    assert all(a["AlarmActions"] for a in alarms.values())
