"""The PostgreSQL advisor stack (ChurnGuardOpsDbAdvisor): function, weekly schedule, least-privilege IAM, VPC, alarms.

The session's shared synth (cdk.json: no instance configured) covers the unconfigured stack; one extra synth of
just the foundation and this stack covers a configured one (two secrets, one by partial ARN, and a VPC).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from churnguard_ops.core.contracts import DBADVISOR_PROPOSALS_PREFIX, DBADVISOR_REPORTS_PREFIX

from .infra_helpers import as_list, flat, of_type, only, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"
PARTIAL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churnguard/prod/monitoring"
FULL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:analytics/monitoring-AbCdEf"
VPC = {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
       "security_group_ids": ["sg-0123456789abcdef0"]}


@pytest.fixture(scope="module")
def shared(synth) -> dict[str, Any]:
    from aws_cdk import Stack

    from infra_cdk.app import DBADVISOR_STACK_ID

    return synth.template_json(Stack.of(synth.app.node.find_child(DBADVISOR_STACK_ID)))["Resources"]


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory, clean_cdk_env) -> tuple[Any, dict[str, Any]]:
    """Foundation + advisor only, bundling skipped (the shared synth bundles the layer), cdk-nag applied."""
    import aws_cdk as cdk

    from infra_cdk.nag import apply_nag
    from infra_cdk.paths import cdk_json_context
    from infra_cdk.settings import ChurnGuardContext
    from infra_cdk.stacks import DbAdvisorStack, FoundationStack

    churnguard = json.loads(json.dumps(cdk_json_context()["churnguard"]))
    churnguard["dbadvisor"] = {**churnguard["dbadvisor"], "vpc": VPC, "analyze_stale": True,
                               "db_secrets": {"churnguard-prod": PARTIAL, "churnguard-analytics": FULL},
                               "databases": {"churnguard-analytics": "analytics"}}
    outdir = tmp_path_factory.mktemp("cdk.out.dbadvisor")
    app = cdk.App(outdir=str(outdir), context={**cdk_json_context(), "churnguard": churnguard,
                                               "aws:cdk:bundling-stacks": []})
    config = ChurnGuardContext.model_validate(churnguard)
    env = cdk.Environment(account="123456789012", region="us-east-1")
    foundation = FoundationStack(app, "Foundation", config=config, env=env)
    stack = DbAdvisorStack(app, "DbAdvisor", config=config, foundation=foundation.foundation, env=env)
    apply_nag(app)
    app.synth()
    return stack, json.loads((outdir / stack.template_file).read_text())["Resources"]


def _function(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return only(resources, "AWS::Lambda::Function")


def _statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    role = _function(resources)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return list(policy_statements(resources, role))


def test_a_weekly_schedule_advises_every_instance_with_retries_and_a_dlq(shared):
    function_id, function = _function(shared)
    (rule,) = of_type(shared, "AWS::Events::Rule").values()
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "cron(0 5 ? * SUN *)"
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert json.loads(target["Input"]) == {"action": "advise"}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert function["Properties"]["Handler"] == "app.advise"
    assert function["Properties"]["FunctionName"] == f"{PREFIX}-dbadvisor"


def test_it_writes_only_under_the_advice_and_proposals_prefixes(shared):
    (statement,) = [s for s in _statements(shared) if "s3:PutObject" in as_list(s["Action"])]
    resources = sorted(flat(r) for r in as_list(statement["Resource"]))
    assert len(resources) == 2
    assert resources[0].endswith(f"/{DBADVISOR_PROPOSALS_PREFIX}*")
    assert resources[1].endswith(f"/{DBADVISOR_REPORTS_PREFIX}*")
    actions = {a for s in _statements(shared) for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith(("s3:Delete", "rds:Modify", "rds:Delete", "secretsmanager:Put"))}


def test_without_configured_instances_it_reads_no_secret_and_describes_no_instance(shared):
    actions = {a for s in _statements(shared) for a in as_list(s["Action"])}
    assert "secretsmanager:GetSecretValue" not in actions and "rds:DescribeDBInstances" not in actions


def test_configured_secrets_and_instances_are_granted_exactly(configured):
    _, resources = configured
    statements = _statements(resources)
    (secrets,) = [s for s in statements if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
    assert sorted(as_list(secrets["Resource"])) == sorted([FULL, f"{FULL}-??????", PARTIAL, f"{PARTIAL}-??????"])
    (describe,) = [s for s in statements if "rds:DescribeDBInstances" in as_list(s["Action"])]
    assert sorted(flat(r).rsplit(":", 1)[1] for r in as_list(describe["Resource"])) == [
        "churnguard-analytics", "churnguard-prod"]
    (decrypt,) = [s for s in statements if s.get("Sid") == "DecryptSecretsViaSecretsManager"]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == ["secretsmanager.us-east-1.amazonaws.com"]


def test_configured_function_runs_in_the_vpc_with_its_settings(configured):
    _, resources = configured
    props = _function(resources)[1]["Properties"]
    assert props["VpcConfig"] == {"SubnetIds": VPC["subnet_ids"], "SecurityGroupIds": VPC["security_group_ids"]}
    env = props["Environment"]["Variables"]
    from churnguard_ops.dbadvisor.settings import DbAdvisorSettings

    read = {f"DBADVISOR_{name.upper()}" for name in DbAdvisorSettings.model_fields}
    assert {k for k in env if k.startswith("DBADVISOR_")} <= read
    assert json.loads(env["DBADVISOR_DB_SECRETS"]) == {"churnguard-analytics": FULL, "churnguard-prod": PARTIAL}
    assert json.loads(env["DBADVISOR_DATABASES"]) == {"churnguard-analytics": "analytics"}
    assert env["DBADVISOR_DB_SSLMODE"] == "verify-full" and env["DBADVISOR_ANALYZE_STALE"] == "true"
    assert {"DBADVISOR_BUCKET", "DBADVISOR_KMS_KEY_ARN", "DBADVISOR_TOPIC_ARN"} <= set(env)
    assert DbAdvisorSettings.model_validate(
        {"thresholds": json.loads(env["DBADVISOR_THRESHOLDS"])}).thresholds.slow_query_ms == 100


def test_configured_stack_has_no_unsuppressed_nag_errors_and_every_suppression_says_why(configured):
    from aws_cdk.assertions import Annotations, Match

    stack, resources = configured
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []
    rules = [rule for res in resources.values()
             for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]
    assert rules and all(len(r.get("reason", "")) >= 30 for r in rules)
    assert all(r.get("applies_to") for r in rules if r["id"] == "AwsSolutions-IAM5")


def test_the_stack_as_cdk_json_configures_it_has_no_unsuppressed_nag_errors(synth):
    from aws_cdk import Stack
    from aws_cdk.assertions import Annotations, Match

    from infra_cdk.app import DBADVISOR_STACK_ID

    stack = Stack.of(synth.app.node.find_child(DBADVISOR_STACK_ID))
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_errors_and_the_dlq_alarm_the_ops_topic(shared):
    alarms = {v["Properties"]["AlarmName"]: v["Properties"] for v in of_type(shared, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"{PREFIX}-dbadvisor-errors", f"{PREFIX}-dbadvisor-dlq"}
    assert all(a["AlarmActions"] for a in alarms.values())


@pytest.mark.parametrize("bad", [
    {"db_secrets": {"bad--id": PARTIAL}},
    {"db_secrets": {"churnguard-prod": "not-an-arn"}},
    {"databases": {"churnguard-prod": "x"}},
    {"thresholds": {"slow_query_ms": 0}},
    {"thresholds": {"no_such_threshold": 1}},
    {"schedule": "every sunday"},
    {"db_sslmode": "sometimes"},
])
def test_a_context_mistake_fails_the_synth(bad):
    from pydantic import ValidationError

    from infra_cdk.dbadvisor_settings import DbAdvisorContext

    with pytest.raises(ValidationError):
        DbAdvisorContext.model_validate(bad)
