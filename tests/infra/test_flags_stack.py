"""Wiring of the flags stack (ChurnGuardOpsFlags): the AppConfig application, environments, validated flag profile,
immediate strategy and deployments; the evaluate function reading exactly its environment's profile; alarms; and
the flags context failing synth on a bad flag."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.core.contracts import (
    FLAG_STORE_ERRORS_METRIC,
    FLAGS_APPLICATION,
    FLAGS_IMMEDIATE_STRATEGY,
    FLAGS_METRICS_NAMESPACE,
    FLAGS_PROFILE,
)
from infra_cdk.paths import cdk_json_context
from infra_cdk.settings import ChurnGuardContext

from .infra_helpers import as_list, flat, of_type, only, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"


@pytest.fixture(scope="module")
def stack(synth) -> Any:
    return synth.flags


@pytest.fixture(scope="module")
def resources(synth, stack) -> dict[str, Any]:
    return synth.template_json(stack)["Resources"]


@pytest.fixture(scope="module")
def configured() -> ChurnGuardContext:
    return ChurnGuardContext.model_validate(cdk_json_context()["churnguard"])


def _ref(resources: dict[str, Any], cfn_type: str) -> dict[str, str]:
    return {"Ref": only(resources, cfn_type)[0]}


def test_one_application_one_environment_per_stage_no_monitors(resources, configured):
    _, application = only(resources, "AWS::AppConfig::Application")
    assert application["Properties"]["Name"] == FLAGS_APPLICATION
    environments = of_type(resources, "AWS::AppConfig::Environment").values()
    assert sorted(e["Properties"]["Name"] for e in environments) == sorted(configured.flags.environments)
    assert all(e["Properties"]["ApplicationId"] == _ref(resources, "AWS::AppConfig::Application")
               and not e["Properties"].get("Monitors") for e in environments)


def test_the_profile_is_hosted_freeform_and_validated_by_the_flag_document_schema(resources):
    from infra_cdk.stacks.flags_schema import flag_document_schema_json

    _, profile = only(resources, "AWS::AppConfig::ConfigurationProfile")
    props = profile["Properties"]
    assert (props["Name"], props["Type"], props["LocationUri"]) == (FLAGS_PROFILE, "AWS.Freeform", "hosted")
    assert props["Validators"] == [{"Type": "JSON_SCHEMA", "Content": flag_document_schema_json()}]


def test_the_hosted_version_is_the_configured_document_in_its_order(resources, configured):
    _, version = only(resources, "AWS::AppConfig::HostedConfigurationVersion")
    props = version["Properties"]
    assert props["ContentType"] == "application/json"
    assert props["ConfigurationProfileId"] == _ref(resources, "AWS::AppConfig::ConfigurationProfile")
    deployed = json.loads(props["Content"])
    assert deployed == configured.flags.flags
    assert list(deployed) == list(configured.flags.flags)  # document order is rule evaluation order
    assert deployed["new_dashboard_ui"]["rollout"]["percentage"] == 10


def test_the_immediate_strategy_deploys_all_at_once_without_bake_or_replication(resources):
    _, strategy = only(resources, "AWS::AppConfig::DeploymentStrategy")
    props = {k: v for k, v in strategy["Properties"].items() if k not in ("Description", "Tags")}
    assert props == {"Name": FLAGS_IMMEDIATE_STRATEGY, "DeploymentDurationInMinutes": 0, "GrowthFactor": 100,
                     "GrowthType": "LINEAR", "FinalBakeTimeInMinutes": 0, "ReplicateTo": "NONE"}


def test_each_environment_gets_one_deployment_of_the_hosted_version_with_the_immediate_strategy(resources):
    deployments = [d["Properties"] for d in of_type(resources, "AWS::AppConfig::Deployment").values()]
    environments = of_type(resources, "AWS::AppConfig::Environment")
    assert sorted(d["EnvironmentId"]["Ref"] for d in deployments) == sorted(environments)
    for deployment in deployments:
        assert deployment["DeploymentStrategyId"] == _ref(resources, "AWS::AppConfig::DeploymentStrategy")
        assert deployment["ConfigurationVersion"] == _ref(resources, "AWS::AppConfig::HostedConfigurationVersion")
        assert deployment["ConfigurationProfileId"] == _ref(resources, "AWS::AppConfig::ConfigurationProfile")


def test_the_target_hands_the_canary_stack_the_ids_of_these_resources(stack, resources, configured):
    target = stack.target
    assert stack.resolve(target.application_id) == _ref(resources, "AWS::AppConfig::Application")
    assert stack.resolve(target.profile_id) == _ref(resources, "AWS::AppConfig::ConfigurationProfile")
    assert stack.resolve(target.deployment_strategy_id) == _ref(resources, "AWS::AppConfig::DeploymentStrategy")
    environments = {e["Properties"]["Name"]: {"Ref": k}
                    for k, e in of_type(resources, "AWS::AppConfig::Environment").items()}
    assert {name: stack.resolve(i) for name, i in target.environment_ids.items()} == environments


def _evaluator(resources: dict[str, Any]) -> dict[str, Any]:
    (function,) = [f for f in of_type(resources, "AWS::Lambda::Function").values()
                   if f["Properties"]["FunctionName"] == f"{PREFIX}-flags-evaluate"]
    return function


def test_the_evaluate_function_is_synchronous_and_carries_the_flags_settings(resources, configured):
    props = _evaluator(resources)["Properties"]
    assert props["Handler"] == "app.evaluate"
    variables = props["Environment"]["Variables"]
    assert {k: v for k, v in variables.items() if k.startswith("FLAGS_")} == configured.flags.lambda_environment()
    assert not of_type(resources, "AWS::Lambda::EventInvokeConfig")  # request/response: no DLQ, no retries
    assert not of_type(resources, "AWS::SQS::Queue")


def test_the_function_reads_exactly_its_environments_flag_profile_and_nothing_else(resources, configured):
    role = _evaluator(resources)["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = list(policy_statements(resources, role))
    (read,) = [s for s in statements if any(a.startswith("appconfig:") for a in as_list(s["Action"]))]
    assert sorted(as_list(read["Action"])) == ["appconfig:GetLatestConfiguration",
                                               "appconfig:StartConfigurationSession"]
    ids = {e["Properties"]["Name"]: k for k, e in of_type(resources, "AWS::AppConfig::Environment").items()}
    (resource,) = as_list(read["Resource"])
    assert flat(resource) == (
        f"arn:<AWS::Partition>:appconfig:us-east-1:<AWS::AccountId>"
        f":application/<{only(resources, 'AWS::AppConfig::Application')[0]}>"
        f"/environment/<{ids[configured.flags.evaluation_environment]}>"
        f"/configuration/<{only(resources, 'AWS::AppConfig::ConfigurationProfile')[0]}>")
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert not any(a.startswith(("cloudwatch:", "s3:", "dynamodb:", "sns:")) for a in actions)  # EMF: no API


def test_evaluate_errors_and_store_errors_per_environment_alarm_to_the_ops_topic(resources, configured):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"{PREFIX}-flags-evaluate-errors",
                           *(f"{PREFIX}-flags-store-errors-{e}" for e in configured.flags.environments)}
    assert all(a["AlarmActions"] for a in alarms.values())
    for environment in configured.flags.environments:
        store = alarms[f"{PREFIX}-flags-store-errors-{environment}"]
        assert (store["Namespace"], store["MetricName"], store["Statistic"]) == \
               (FLAGS_METRICS_NAMESPACE, FLAG_STORE_ERRORS_METRIC, "Sum")
        assert sorted(store["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "Application", "Value": FLAGS_APPLICATION}, {"Name": "Environment", "Value": environment}]
        assert (store["Threshold"], store["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_stack_is_tagged_with_its_capability(resources):
    _, function = only(resources, "AWS::Lambda::Function")
    assert {"Key": "Capability", "Value": "flags"} in function["Properties"]["Tags"]


# --- the flags context: a bad flag fails the synth naming the field (no synth needed) ---------------------

def _with_flag(flag: dict[str, Any], key: str = "new_dashboard_ui") -> dict[str, Any]:
    return {"flags": {"flags": {key: flag}}}


@pytest.mark.parametrize(("bad", "named"), [
    (_with_flag({"default": False}, key="NewDashboard"), r"flags\.flags\.NewDashboard: flag key must match"),
    (_with_flag({"default": False, "rollout": {"percentage": 100.5, "value": True}}),
     r"flags\.flags\.new_dashboard_ui\.rollout\.percentage"),
    (_with_flag({"default": False, "rollout": {"percentage": 0.1234, "value": True}}),
     r"flags\.flags\.new_dashboard_ui\.rollout\.percentage: 0\.1234 has more than 3 decimals"),
    (_with_flag({"default": False, "rules": {"tiers": {"when_match": True, "conditions": [
        {"action": "ONE_OF", "key": "subscription_tier", "value": ["enterprise"]}]}}}),
     r"flags\.flags\.new_dashboard_ui\.rules\.tiers\.conditions\.0\.action: unknown action 'ONE_OF'"),
    (_with_flag({"default": False, "rules": {"tiers": {"when_match": "yes", "conditions": [
        {"action": "EQUALS", "key": "subscription_tier", "value": "enterprise"}]}}}),
     r"flags\.flags\.new_dashboard_ui\.rules\.tiers\.when_match"),
    ({"flags": {"environments": ["staging"]}}, r"evaluation_environment 'production' is not one of"),
    ({"flags": {"environments": ["production", "production"]}}, r"entries must be unique"),
    ({"flags": {"environments": ["prod/eu"], "evaluation_environment": "prod/eu"}}, r"environments\.0"),
    ({"flags": {"cache_seconds": 5}}, r"flags\.cache_seconds"),
    ({"flags": {"exposure_sample_rate": 0}}, r"flags\.exposure_sample_rate"),
])
def test_a_bad_flags_context_fails_naming_the_field(bad, named):
    with pytest.raises(ValidationError, match=named):
        ChurnGuardContext.model_validate(bad)


def test_a_fractional_percentage_on_the_bucket_grid_and_non_boolean_flags_are_accepted():
    ctx = ChurnGuardContext.model_validate({"flags": {"flags": {
        "new_dashboard_ui": {"default": False, "rollout": {"percentage": 0.125, "value": True}},
        "theme": {"default": "light", "boolean_type": False, "rollout": {"percentage": 50, "value": "dark"}}}}})
    assert ctx.flags.document().flags["new_dashboard_ui"].rollout.threshold == 125  # type: ignore[union-attr]


# --- the schema AppConfig validates with: draft 4, never stricter than the model -----------------------------

def test_the_validator_schema_is_draft_4_accepts_valid_documents_and_refuses_what_the_model_refuses():
    import jsonschema

    from infra_cdk.flags_settings import SEED_FLAGS
    from infra_cdk.stacks.flags_schema import flag_document_schema

    schema = flag_document_schema()
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema)
    valid = [SEED_FLAGS, {}, {"theme": {"default": "light", "boolean_type": False,
                                        "rollout": {"percentage": 0.125, "value": "dark", "salt": ""}}}]
    assert [list(validator.iter_errors(document)) for document in valid] == [[], [], []]
    invalid = [{"Bad": {"default": False}},
               {"x": {"default": False, "rollout": {"percentage": 101, "value": True}}},
               {"x": {"default": False, "rules": {"r": {"when_match": True, "conditions": [
                   {"action": "ONE_OF", "key": "k", "value": 1}]}}}},
               {"x": {"default": False, "killswitch": True}}]
    assert [validator.is_valid(document) for document in invalid] == [False] * len(invalid)


def test_the_local_context_records_every_exposure_and_keeps_the_configured_flags(configured):
    from opsctl.environment import local_context

    local = ChurnGuardContext.model_validate(local_context("us-east-1")["churnguard"]).flags
    assert local.exposure_sample_rate == 1.0 and configured.flags.exposure_sample_rate == 0.1
    assert {key: local.flags[key] for key in configured.flags.flags} == configured.flags.flags
    assert local.model_dump(exclude={"exposure_sample_rate", "flags"}) == \
        configured.flags.model_dump(exclude={"exposure_sample_rate", "flags"})


# --- two stages: one extra synth of the flags stack alone, on an imported foundation -------------------------

@pytest.fixture(scope="module")
def two_stages(clean_cdk_env) -> dict[str, Any]:
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sns as sns
    from aws_cdk.assertions import Template

    from infra_cdk.constructs import Foundation
    from infra_cdk.stacks.flags_stack import FlagsStack

    # CDK's built-in template validation costs ~15 s a synth; cfn-lint checks the real templates.
    app = App(context={"aws:cdk:bundling-stacks": []}, builtin_cloud_formation_validation=False)
    env = Environment(account="123456789012", region="us-east-1")
    shared = Stack(app, "Shared", env=env)
    arn = "arn:aws:{}:us-east-1:123456789012:{}"
    foundation = Foundation(
        layer=lambda_.LayerVersion.from_layer_version_arn(shared, "Layer", arn.format("lambda", "layer:ops:1")),
        topic=sns.Topic.from_topic_arn(shared, "Topic", arn.format("sns", "ops")),
        topic_key=kms.Key.from_key_arn(shared, "TopicKey", arn.format("kms", "key/topic")),
        key=kms.Key.from_key_arn(shared, "Key", arn.format("kms", "key/ops")),
        bucket=s3.Bucket.from_bucket_name(shared, "Bucket", "ops-bucket"))
    config = ChurnGuardContext.model_validate(
        {"flags": {"environments": ["staging", "production"], "evaluation_environment": "staging"}})
    stack = FlagsStack(app, "Flags", config=config, foundation=foundation, env=env)
    return Template.from_stack(stack).to_json()["Resources"]


def test_every_stage_is_deployed_and_alarmed_but_the_function_reads_only_the_evaluated_one(two_stages):
    ids = {e["Properties"]["Name"]: k for k, e in of_type(two_stages, "AWS::AppConfig::Environment").items()}
    assert set(ids) == {"staging", "production"}
    deployed = [d["Properties"]["EnvironmentId"]["Ref"] for d in of_type(two_stages, "AWS::AppConfig::Deployment")
                .values()]
    assert sorted(deployed) == sorted(ids.values())
    (read,) = [s for res in of_type(two_stages, "AWS::IAM::Policy").values()
               for s in res["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "ReadFlagProfile"]
    (resource,) = as_list(read["Resource"])
    assert f"/environment/<{ids['staging']}>/" in flat(resource) and ids["production"] not in flat(resource)
    env = _evaluator(two_stages)["Properties"]["Environment"]["Variables"]
    assert env["FLAGS_ENVIRONMENT"] == "staging"
    alarms = {a["Properties"]["AlarmName"] for a in of_type(two_stages, "AWS::CloudWatch::Alarm").values()}
    assert {f"{PREFIX}-flags-store-errors-staging", f"{PREFIX}-flags-store-errors-production"} <= alarms


def test_the_flags_library_reads_back_exactly_what_the_context_sets(monkeypatch, configured):
    from churnguard_ops.flags.settings import FlagsSettings

    for name, value in configured.flags.lambda_environment().items():
        monkeypatch.setenv(name, value)
    settings = FlagsSettings()
    assert (settings.application, settings.environment, settings.profile, settings.cache_seconds,
            settings.max_stale_seconds, settings.exposure_sample_rate) == (
        FLAGS_APPLICATION, "production", FLAGS_PROFILE, 45, 3600, 0.1)


def test_the_canary_stack_learns_when_a_deployment_has_reached_every_application(synth):
    from infra_cdk.app import cdk_json_context

    cache_seconds = cdk_json_context()["churnguard"]["flags"]["cache_seconds"]
    assert synth.flags.target.propagation_seconds == cache_seconds + 1
