"""AppConfig in the embedded AWS: environments, deployment strategies, deployments, the appconfigdata sessions,
the deployment conflict fault, Latest-Version-Number, and the template deployer's AppConfig resources.

One embedded AWS for the module; each test makes its own application (moto's state is shared).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from churnguard_ops.core.contracts import FLAGS_APPLICATION, FLAGS_IMMEDIATE_STRATEGY, FLAGS_PROFILE
from opsctl.local.aws import EmbeddedAws
from opsctl.local.deploy import deploy_stack
from opsctl.local.faults import Fault

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:flags-errors"


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        embedded.reset()
        yield embedded


@pytest.fixture
def appconfig(aws: EmbeddedAws) -> Any:
    return aws.client("appconfig")


@pytest.fixture
def appconfigdata(aws: EmbeddedAws) -> Any:
    return aws.client("appconfigdata")


@dataclass
class Flags:
    app: str
    app_name: str
    profile: str
    env: str
    strategy: str

    def put(self, appconfig: Any, document: dict[str, Any], label: str | None = None) -> int:
        args: dict[str, Any] = {"ApplicationId": self.app, "ConfigurationProfileId": self.profile,
                                "Content": json.dumps(document).encode(), "ContentType": "application/json"}
        if label:
            args["VersionLabel"] = label
        return int(appconfig.create_hosted_configuration_version(**args)["VersionNumber"])

    def deploy(self, appconfig: Any, version: int) -> dict[str, Any]:
        return appconfig.start_deployment(ApplicationId=self.app, EnvironmentId=self.env,
                                          DeploymentStrategyId=self.strategy, ConfigurationProfileId=self.profile,
                                          ConfigurationVersion=str(version))


@pytest.fixture
def flags(appconfig: Any) -> Flags:
    """An application of its own with a hosted profile, a production environment and an immediate strategy."""
    name = f"flags-{uuid.uuid4().hex[:8]}"
    app = appconfig.create_application(Name=name)["Id"]
    profile = appconfig.create_configuration_profile(ApplicationId=app, Name=FLAGS_PROFILE, LocationUri="hosted",
                                                     Type="AWS.Freeform")["Id"]
    env = appconfig.create_environment(ApplicationId=app, Name="production")["Id"]
    strategy = appconfig.create_deployment_strategy(Name=f"{name}-immediate", DeploymentDurationInMinutes=0,
                                                    GrowthFactor=100, FinalBakeTimeInMinutes=0,
                                                    ReplicateTo="NONE")["Id"]
    return Flags(app, name, profile, env, strategy)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _poll(appconfigdata: Any, token: str) -> tuple[bytes, dict[str, Any]]:
    answer = appconfigdata.get_latest_configuration(ConfigurationToken=token)
    return answer["Configuration"].read(), answer


def test_environment_round_trip_stores_monitors_with_an_appconfig_id(appconfig: Any, flags: Flags) -> None:
    created = appconfig.create_environment(ApplicationId=flags.app, Name="staging", Description="pre-production",
                                           Monitors=[{"AlarmArn": ALARM_ARN}])
    assert len(created["Id"]) == 7 and created["Id"].isalnum() and created["Id"].islower()
    got = appconfig.get_environment(ApplicationId=flags.app, EnvironmentId=created["Id"])
    assert (got["Name"], got["Description"], got["State"]) == ("staging", "pre-production", "READY_FOR_DEPLOYMENT")
    assert got["Monitors"] == [{"AlarmArn": ALARM_ARN}]
    listed = appconfig.list_environments(ApplicationId=flags.app)["Items"]
    assert sorted(e["Name"] for e in listed) == ["production", "staging"]

    appconfig.delete_environment(ApplicationId=flags.app, EnvironmentId=created["Id"])
    with pytest.raises(ClientError) as gone:
        appconfig.get_environment(ApplicationId=flags.app, EnvironmentId=created["Id"])
    assert _error(gone) == ("ResourceNotFoundException", 404)


def test_deployment_strategy_round_trip_and_the_predefined_all_at_once(appconfig: Any, flags: Flags) -> None:
    got = appconfig.get_deployment_strategy(DeploymentStrategyId=flags.strategy)
    assert (got["DeploymentDurationInMinutes"], got["GrowthFactor"], got["FinalBakeTimeInMinutes"],
            got["ReplicateTo"]) == (0, 100.0, 0, "NONE")
    listed = {s["Id"]: s for s in appconfig.list_deployment_strategies()["Items"]}
    assert flags.strategy in listed
    assert listed["AppConfig.AllAtOnce"]["GrowthFactor"] == 100.0
    assert appconfig.get_deployment_strategy(DeploymentStrategyId="AppConfig.AllAtOnce")["Name"] == \
        "AppConfig.AllAtOnce"


def test_a_deployment_completes_at_once_and_appconfigdata_serves_its_version(
        appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    version = flags.put(appconfig, {"new_dashboard_ui": {"default": False}}, label="v1")
    deployment = flags.deploy(appconfig, version)
    assert (deployment["State"], deployment["PercentageComplete"], deployment["DeploymentNumber"]) == \
        ("COMPLETE", 100.0, 1)
    assert [e["EventType"] for e in deployment["EventLog"]][0] == "DEPLOYMENT_COMPLETED"
    assert appconfig.get_deployment(ApplicationId=flags.app, EnvironmentId=flags.env,
                                    DeploymentNumber=1)["ConfigurationVersion"] == str(version)

    token = appconfigdata.start_configuration_session(  # by names
        ApplicationIdentifier=flags.app_name, EnvironmentIdentifier="production",
        ConfigurationProfileIdentifier=FLAGS_PROFILE, RequiredMinimumPollIntervalInSeconds=15,
    )["InitialConfigurationToken"]
    content, answer = _poll(appconfigdata, token)
    assert json.loads(content) == {"new_dashboard_ui": {"default": False}}
    assert (answer["ContentType"], answer["VersionLabel"], answer["NextPollIntervalInSeconds"]) == \
        ("application/json", "v1", 15)


def test_a_newer_deployment_is_served_on_the_next_poll_and_unchanged_content_is_empty(
        appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    flags.deploy(appconfig, flags.put(appconfig, {"f": {"default": False}}))
    token = appconfigdata.start_configuration_session(  # by ids; no interval asked: AppConfig's 60 s
        ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier=flags.profile,
    )["InitialConfigurationToken"]
    first, answer = _poll(appconfigdata, token)
    assert json.loads(first) == {"f": {"default": False}} and answer["NextPollIntervalInSeconds"] == 60
    unchanged, answer = _poll(appconfigdata, answer["NextPollConfigurationToken"])
    assert unchanged == b""

    flags.deploy(appconfig, flags.put(appconfig, {"f": {"default": True}}))
    newer, _ = _poll(appconfigdata, answer["NextPollConfigurationToken"])
    assert json.loads(newer) == {"f": {"default": True}}
    listed = appconfig.list_deployments(ApplicationId=flags.app, EnvironmentId=flags.env)["Items"]
    assert [d["DeploymentNumber"] for d in listed] == [2, 1]  # newest first


def test_a_used_or_unknown_token_is_a_bad_request(appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    flags.deploy(appconfig, flags.put(appconfig, {}))
    token = appconfigdata.start_configuration_session(
        ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier=flags.profile,
    )["InitialConfigurationToken"]
    _poll(appconfigdata, token)
    for bad in (token, "not-a-token"):
        with pytest.raises(ClientError) as refused:
            appconfigdata.get_latest_configuration(ConfigurationToken=bad)
        assert _error(refused) == ("BadRequestException", 400)


def test_a_session_before_any_deployment_is_not_found_and_its_token_stays_good(
        appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    token = appconfigdata.start_configuration_session(
        ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier=flags.profile,
    )["InitialConfigurationToken"]
    with pytest.raises(ClientError) as nothing:
        appconfigdata.get_latest_configuration(ConfigurationToken=token)
    assert _error(nothing) == ("ResourceNotFoundException", 404)
    flags.deploy(appconfig, flags.put(appconfig, {"late": {"default": True}}))
    assert json.loads(_poll(appconfigdata, token)[0]) == {"late": {"default": True}}


def test_a_held_deployment_conflicts_with_the_next_until_stopped_and_is_not_served(
        aws: EmbeddedAws, appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    first = flags.put(appconfig, {"v": {"default": False}})
    flags.deploy(appconfig, first)
    aws.appconfig.hold_next_deployment(3600, environment_id=flags.env)
    held = flags.deploy(appconfig, flags.put(appconfig, {"v": {"default": True}}))
    assert (held["State"], held["PercentageComplete"]) == ("DEPLOYING", 0.0)
    assert appconfig.get_environment(ApplicationId=flags.app, EnvironmentId=flags.env)["State"] == "DEPLOYING"
    with pytest.raises(ClientError) as conflict:
        flags.deploy(appconfig, first)
    assert _error(conflict) == ("ConflictException", 409)
    token = appconfigdata.start_configuration_session(
        ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier=flags.profile,
    )["InitialConfigurationToken"]
    assert json.loads(_poll(appconfigdata, token)[0]) == {"v": {"default": False}}  # the last COMPLETE one

    stopped = appconfig.stop_deployment(ApplicationId=flags.app, EnvironmentId=flags.env,
                                        DeploymentNumber=held["DeploymentNumber"])
    assert stopped["State"] == "ROLLED_BACK"
    assert {"ROLLBACK_STARTED", "ROLLBACK_COMPLETED"} <= {e["EventType"] for e in stopped["EventLog"]}
    assert flags.deploy(appconfig, first)["State"] == "COMPLETE"


def test_a_reverted_deployment_is_no_longer_served_and_a_complete_one_stops_only_with_allow_revert(
        appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    flags.deploy(appconfig, flags.put(appconfig, {"v": {"default": False}}))
    second = flags.deploy(appconfig, flags.put(appconfig, {"v": {"default": True}}))
    with pytest.raises(ClientError) as complete:
        appconfig.stop_deployment(ApplicationId=flags.app, EnvironmentId=flags.env,
                                  DeploymentNumber=second["DeploymentNumber"])
    assert _error(complete) == ("BadRequestException", 400)
    reverted = appconfig.stop_deployment(ApplicationId=flags.app, EnvironmentId=flags.env,
                                         DeploymentNumber=second["DeploymentNumber"], AllowRevert=True)
    assert reverted["State"] == "REVERTED"
    token = appconfigdata.start_configuration_session(
        ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier=flags.profile,
    )["InitialConfigurationToken"]
    assert json.loads(_poll(appconfigdata, token)[0]) == {"v": {"default": False}}


def test_a_held_deployment_completes_when_its_hold_is_over(aws: EmbeddedAws, appconfig: Any, flags: Flags,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    aws.appconfig.hold_next_deployment(30)
    held = flags.deploy(appconfig, flags.put(appconfig, {}))
    assert held["State"] == "DEPLOYING"
    later = aws.appconfig.state.clock() + 31
    monkeypatch.setattr(aws.appconfig.state, "clock", lambda: later)
    done = appconfig.get_deployment(ApplicationId=flags.app, EnvironmentId=flags.env,
                                    DeploymentNumber=held["DeploymentNumber"])
    assert (done["State"], done["PercentageComplete"]) == ("COMPLETE", 100.0)


def test_an_injected_fault_fails_the_named_operation_until_cleared(
        aws: EmbeddedAws, appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    flags.deploy(appconfig, flags.put(appconfig, {"f": {"default": True}}))
    token = appconfigdata.start_configuration_session(
        ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier=flags.profile,
    )["InitialConfigurationToken"]
    aws.appconfig.add_fault(Fault.parse("appconfigdata:GetLatestConfiguration:AccessDeniedException"))
    aws.appconfig.add_fault(Fault.parse(f"appconfig:StartDeployment:EnvironmentId={flags.env}:BadRequestException"))
    try:
        with pytest.raises(ClientError) as outage:
            appconfigdata.get_latest_configuration(ConfigurationToken=token)
        assert outage.value.response["Error"]["Code"] == "AccessDeniedException"
        with pytest.raises(ClientError) as refused:
            flags.deploy(appconfig, 1)
        assert refused.value.response["Error"]["Code"] == "BadRequestException"
        assert len(appconfig.list_deployments(ApplicationId=flags.app, EnvironmentId=flags.env)["Items"]) == 1
    finally:
        aws.appconfig.clear_faults()
    assert json.loads(_poll(appconfigdata, token)[0]) == {"f": {"default": True}}  # the token was not spent
    assert ("appconfigdata:GetLatestConfiguration", None) in aws.appconfig.injected


def test_latest_version_number_that_is_not_the_latest_is_a_conflict(appconfig: Any, flags: Flags) -> None:
    args = {"ApplicationId": flags.app, "ConfigurationProfileId": flags.profile, "Content": b"{}",
            "ContentType": "application/json"}
    assert appconfig.create_hosted_configuration_version(**args, LatestVersionNumber=0)["VersionNumber"] == 1
    assert appconfig.create_hosted_configuration_version(**args, LatestVersionNumber=1)["VersionNumber"] == 2
    with pytest.raises(ClientError) as stale:
        appconfig.create_hosted_configuration_version(**args, LatestVersionNumber=1)
    assert _error(stale) == ("ConflictException", 409)
    listed = appconfig.list_hosted_configuration_versions(ApplicationId=flags.app,
                                                          ConfigurationProfileId=flags.profile)["Items"]
    assert [v["VersionNumber"] for v in listed] == [2, 1]  # newest first; the refused one was not created


def test_a_document_failing_the_profiles_json_schema_is_not_deployed(appconfig: Any, flags: Flags) -> None:
    schema = {"type": "object", "additionalProperties": {"type": "object", "required": ["default"]}}
    profile = appconfig.create_configuration_profile(
        ApplicationId=flags.app, Name="validated", LocationUri="hosted", Type="AWS.Freeform",
        Validators=[{"Type": "JSON_SCHEMA", "Content": json.dumps(schema)}])["Id"]
    validated = Flags(flags.app, flags.app_name, profile, flags.env, flags.strategy)
    with pytest.raises(ClientError) as refused:
        validated.deploy(appconfig, validated.put(appconfig, {"new_dashboard_ui": {"description": "no default"}}))
    assert _error(refused) == ("BadRequestException", 400)
    assert "$.new_dashboard_ui" in refused.value.response["Error"]["Message"]
    assert appconfig.list_deployments(ApplicationId=flags.app, EnvironmentId=flags.env)["Items"] == []
    assert validated.deploy(appconfig, validated.put(appconfig, {"f": {"default": True}}))["State"] == "COMPLETE"


def test_unknown_ids_are_resource_not_found(appconfig: Any, appconfigdata: Any, flags: Flags) -> None:
    calls = {
        "application": lambda: appconfig.get_application(ApplicationId="nope123"),
        "environment": lambda: appconfig.get_environment(ApplicationId=flags.app, EnvironmentId="nope123"),
        "environments of an unknown application": lambda: appconfig.list_environments(ApplicationId="nope123"),
        "strategy": lambda: appconfig.get_deployment_strategy(DeploymentStrategyId="nope123"),
        "deployment": lambda: appconfig.get_deployment(ApplicationId=flags.app, EnvironmentId=flags.env,
                                                       DeploymentNumber=99),
        "hosted version": lambda: flags.deploy(appconfig, 99),
        "session profile": lambda: appconfigdata.start_configuration_session(
            ApplicationIdentifier=flags.app, EnvironmentIdentifier=flags.env, ConfigurationProfileIdentifier="nope"),
        "session environment": lambda: appconfigdata.start_configuration_session(
            ApplicationIdentifier=flags.app, EnvironmentIdentifier="nope",
            ConfigurationProfileIdentifier=flags.profile),
    }
    answers = {}
    for what, call in calls.items():
        with pytest.raises(ClientError) as missing:
            call()
        answers[what] = _error(missing)
    assert answers == {what: ("ResourceNotFoundException", 404) for what in calls}


def _flags_template(document: dict[str, Any]) -> dict[str, Any]:
    """AppConfig resources shaped as CDK's aws_appconfig constructs emit them: Ref for ids (L2), and the GetAtt
    forms an L1 stack uses (the staging environment and its deployment)."""
    app, profile = {"Ref": "FlagsApp"}, {"Ref": "FlagsProfile"}
    return {"Resources": {
        "FlagsApp": {"Type": "AWS::AppConfig::Application", "Properties": {"Name": FLAGS_APPLICATION}},
        "Production": {"Type": "AWS::AppConfig::Environment", "Properties": {
            "ApplicationId": app, "Name": "production", "Monitors": [{"AlarmArn": ALARM_ARN}]}},
        "Staging": {"Type": "AWS::AppConfig::Environment", "Properties": {
            "ApplicationId": {"Fn::GetAtt": ["FlagsApp", "ApplicationId"]}, "Name": "staging"}},
        "FlagsProfile": {"Type": "AWS::AppConfig::ConfigurationProfile", "Properties": {
            "ApplicationId": app, "Name": FLAGS_PROFILE, "LocationUri": "hosted", "Type": "AWS.Freeform"}},
        "FlagsVersion": {"Type": "AWS::AppConfig::HostedConfigurationVersion", "Properties": {
            "ApplicationId": app, "ConfigurationProfileId": profile, "Content": json.dumps(document),
            "ContentType": "application/json"}},
        "Immediate": {"Type": "AWS::AppConfig::DeploymentStrategy", "Properties": {
            "Name": FLAGS_IMMEDIATE_STRATEGY, "DeploymentDurationInMinutes": 0, "GrowthFactor": 100,
            "GrowthType": "LINEAR", "FinalBakeTimeInMinutes": 0, "ReplicateTo": "NONE"}},
        "ProductionDeployment": {"Type": "AWS::AppConfig::Deployment", "Properties": {
            "ApplicationId": app, "EnvironmentId": {"Ref": "Production"}, "ConfigurationProfileId": profile,
            "ConfigurationVersion": {"Ref": "FlagsVersion"}, "DeploymentStrategyId": {"Ref": "Immediate"}}},
        "StagingDeployment": {"Type": "AWS::AppConfig::Deployment", "Properties": {
            "ApplicationId": app, "EnvironmentId": {"Fn::GetAtt": ["Staging", "EnvironmentId"]},
            "ConfigurationProfileId": {"Fn::GetAtt": ["FlagsProfile", "ConfigurationProfileId"]},
            "ConfigurationVersion": {"Fn::GetAtt": ["FlagsVersion", "VersionNumber"]},
            "DeploymentStrategyId": {"Fn::GetAtt": ["Immediate", "Id"]}}},
    }, "Outputs": {"ApplicationId": {"Value": app}, "ProfileId": {"Value": profile},
                   "StrategyId": {"Value": {"Ref": "Immediate"}}}}


def test_the_deployer_creates_the_appconfig_resources_of_a_template(
        aws: EmbeddedAws, appconfig: Any, appconfigdata: Any, tmp_path: Path) -> None:
    document = {"new_dashboard_ui": {"default": False, "rollout": {"percentage": 10, "value": True}}}
    deployed = deploy_stack(aws, _flags_template(document), assembly_dir=tmp_path, stack_name="ChurnGuardFlags")

    assert [s.logical_id for s in deployed.skipped] == []
    outputs = deployed.outputs
    app = appconfig.get_application(ApplicationId=outputs["ApplicationId"])
    assert app["Name"] == FLAGS_APPLICATION
    assert appconfig.get_deployment_strategy(DeploymentStrategyId=outputs["StrategyId"])["Name"] == \
        FLAGS_IMMEDIATE_STRATEGY
    environments = {e["Name"]: e for e in appconfig.list_environments(ApplicationId=app["Id"])["Items"]}
    assert environments["production"]["Monitors"] == [{"AlarmArn": ALARM_ARN}]
    for name in ("production", "staging"):
        deployments = appconfig.list_deployments(ApplicationId=app["Id"],
                                                 EnvironmentId=environments[name]["Id"])["Items"]
        assert [(d["ConfigurationVersion"], d["State"]) for d in deployments] == [("1", "COMPLETE")]
        token = appconfigdata.start_configuration_session(
            ApplicationIdentifier=FLAGS_APPLICATION, EnvironmentIdentifier=name,
            ConfigurationProfileIdentifier=FLAGS_PROFILE)["InitialConfigurationToken"]
        assert json.loads(_poll(appconfigdata, token)[0]) == document
    assert deployed.resources["ProductionDeployment"].physical_id == "1"
    assert deployed.resources["FlagsVersion"].attributes == {"VersionNumber": "1"}
