"""AppConfig resources of a synthesized template, created in the embedded AWS through AppConfig's API.

Ref and GetAtt answer as CloudFormation does for these types (and as CDK's aws_appconfig constructs use them):

| Type | Ref | GetAtt |
|---|---|---|
| ``AWS::AppConfig::Application`` | application id | ``ApplicationId`` |
| ``AWS::AppConfig::Environment`` | environment id | ``EnvironmentId`` |
| ``AWS::AppConfig::ConfigurationProfile`` | profile id | ``ConfigurationProfileId``, ``KmsKeyArn`` |
| ``AWS::AppConfig::HostedConfigurationVersion`` | version number | ``VersionNumber`` |
| ``AWS::AppConfig::DeploymentStrategy`` | strategy id | ``Id`` |
| ``AWS::AppConfig::Deployment`` | deployment number | ``DeploymentNumber``, ``State`` |

Registered in ``opsctl.local.deploy``'s handler table; each handler is (ctx, logical id, resolved properties) ->
(created resource, the property names it applied).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .template import PhysicalResource

__all__ = ["APPCONFIG_HANDLERS"]

_Result = tuple[PhysicalResource, set[str]]


def _tag_map(p: dict[str, Any]) -> dict[str, str]:
    # CloudFormation: a list of {Key, Value}; the API: a map
    return {t["Key"]: str(t["Value"]) for t in p.get("Tags", [])}


def _with_optional(args: dict[str, Any], p: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        if p.get(key) not in (None, ""):
            args[key] = p[key]
    return args


def _application(ctx: Any, logical_id: str, p: dict[str, Any]) -> _Result:
    args = _with_optional({"Name": p.get("Name") or ctx.name(logical_id, 64)}, p, "Description")
    args["Tags"] = _tag_map(p)  # moto needs a map, even an empty one
    app_id = ctx.client("appconfig").create_application(**args)["Id"]
    return PhysicalResource(app_id, {"ApplicationId": app_id}), {"Name", "Description", "Tags"}


def _environment(ctx: Any, logical_id: str, p: dict[str, Any]) -> _Result:
    args = _with_optional({"ApplicationId": p["ApplicationId"], "Name": p.get("Name") or ctx.name(logical_id, 64)},
                          p, "Description", "Monitors")
    if p.get("Tags"):
        args["Tags"] = _tag_map(p)
    env_id = ctx.client("appconfig").create_environment(**args)["Id"]
    return PhysicalResource(env_id, {"EnvironmentId": env_id}), {"ApplicationId", "Name", "Description", "Monitors",
                                                                 "Tags"}


def _configuration_profile(ctx: Any, logical_id: str, p: dict[str, Any]) -> _Result:
    args = _with_optional({"ApplicationId": p["ApplicationId"], "Name": p.get("Name") or ctx.name(logical_id, 64),
                           "LocationUri": p["LocationUri"]}, p, "Description", "RetrievalRoleArn", "Validators",
                          "Type")
    args["Tags"] = _tag_map(p)
    profile_id = ctx.client("appconfig").create_configuration_profile(**args)["Id"]
    # KMS is not applied locally (moto stores hosted content as given): KmsKeyArn answers the identifier given.
    return PhysicalResource(profile_id, {"ConfigurationProfileId": profile_id,
                                         "KmsKeyArn": p.get("KmsKeyIdentifier", "")}), {
        "ApplicationId", "Name", "LocationUri", "Description", "RetrievalRoleArn", "Validators", "Type", "Tags"}


def _hosted_version(ctx: Any, logical_id: str, p: dict[str, Any]) -> _Result:
    content = p["Content"]
    args = _with_optional({"ApplicationId": p["ApplicationId"], "ConfigurationProfileId": p["ConfigurationProfileId"],
                           "Content": content.encode() if isinstance(content, str) else content,
                           "ContentType": p["ContentType"]}, p, "Description", "VersionLabel")
    if p.get("LatestVersionNumber") is not None:
        args["LatestVersionNumber"] = int(p["LatestVersionNumber"])
    number = str(ctx.client("appconfig").create_hosted_configuration_version(**args)["VersionNumber"])
    return PhysicalResource(number, {"VersionNumber": number}), {
        "ApplicationId", "ConfigurationProfileId", "Content", "ContentType", "Description", "VersionLabel",
        "LatestVersionNumber"}


def _deployment_strategy(ctx: Any, logical_id: str, p: dict[str, Any]) -> _Result:
    args = _with_optional({"Name": p.get("Name") or ctx.name(logical_id, 64),
                           "DeploymentDurationInMinutes": int(p["DeploymentDurationInMinutes"]),
                           "GrowthFactor": float(p["GrowthFactor"]), "ReplicateTo": p.get("ReplicateTo", "NONE")},
                          p, "Description", "GrowthType")
    if p.get("FinalBakeTimeInMinutes") is not None:
        args["FinalBakeTimeInMinutes"] = int(p["FinalBakeTimeInMinutes"])
    if p.get("Tags"):
        args["Tags"] = _tag_map(p)
    strategy_id = ctx.client("appconfig").create_deployment_strategy(**args)["Id"]
    return PhysicalResource(strategy_id, {"Id": strategy_id}), {
        "Name", "DeploymentDurationInMinutes", "GrowthFactor", "ReplicateTo", "Description", "GrowthType",
        "FinalBakeTimeInMinutes", "Tags"}


def _deployment(ctx: Any, logical_id: str, p: dict[str, Any]) -> _Result:
    args = _with_optional({"ApplicationId": p["ApplicationId"], "EnvironmentId": p["EnvironmentId"],
                           "DeploymentStrategyId": p["DeploymentStrategyId"],
                           "ConfigurationProfileId": p["ConfigurationProfileId"],
                           "ConfigurationVersion": str(p["ConfigurationVersion"])}, p, "Description",
                          "KmsKeyIdentifier")
    if p.get("Tags"):
        args["Tags"] = _tag_map(p)
    created = ctx.client("appconfig").start_deployment(**args)
    number = str(created["DeploymentNumber"])
    return PhysicalResource(number, {"DeploymentNumber": number, "State": created["State"]}), {
        "ApplicationId", "EnvironmentId", "DeploymentStrategyId", "ConfigurationProfileId", "ConfigurationVersion",
        "Description", "KmsKeyIdentifier", "Tags"}


APPCONFIG_HANDLERS: dict[str, Callable[[Any, str, dict[str, Any]], _Result]] = {
    "AWS::AppConfig::Application": _application,
    "AWS::AppConfig::Environment": _environment,
    "AWS::AppConfig::ConfigurationProfile": _configuration_profile,
    "AWS::AppConfig::HostedConfigurationVersion": _hosted_version,
    "AWS::AppConfig::DeploymentStrategy": _deployment_strategy,
    "AWS::AppConfig::Deployment": _deployment,
}
