"""The AppConfig adapter of :class:`churnguard_ops.canary.ports.FlagConfigurations`: ChurnGuard's flag profile,
its environments and the immediate deployment strategy, by the ids the CDK app hands the canary stack."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from churnguard_ops.canary.adapters import call_mapped as _call
from churnguard_ops.canary.errors import FlagDeploymentBusy
from churnguard_ops.canary.ports import DeployedFlags, FlagDeployment
from churnguard_ops.core import aws
from churnguard_ops.core.errors import NotFound
from churnguard_ops.core.flag_document import FlagDocument

#: AppConfig's codes that mean "not now": a deployment in progress, a version created meanwhile.
_ERRORS: dict[str, Callable[[str], Exception]] = {
    "ConflictException": FlagDeploymentBusy, "PreconditionFailedException": FlagDeploymentBusy,
    "ResourceNotFoundException": NotFound,
}


class AppConfigFlags:
    def __init__(self, application_id: str, profile_id: str, strategy_id: str, environment_ids: Mapping[str, str],
                 region: str | None = None) -> None:
        self.application_id = application_id
        self.profile_id = profile_id
        self.strategy_id = strategy_id
        self.environment_ids = dict(environment_ids)
        self.region = region

    @property
    def _appconfig(self) -> Any:
        return aws.client("appconfig", self.region)

    def environments(self) -> list[str]:
        return sorted(self.environment_ids)

    def _environment_id(self, environment: str) -> str:
        if environment not in self.environment_ids:
            raise NotFound(f"flags environment {environment!r} (known: {self.environments()})")
        return self.environment_ids[environment]

    def _deployments(self, environment: str) -> list[FlagDeployment]:
        env_id = self._environment_id(environment)
        kwargs: dict[str, Any] = {"ApplicationId": self.application_id, "EnvironmentId": env_id}
        found: list[FlagDeployment] = []
        while True:
            page = _call(f"list deployments of {environment}", self._appconfig.list_deployments, _ERRORS, **kwargs)
            found += [_deployment(environment, item) for item in page.get("Items", [])]
            if not page.get("NextToken"):
                return sorted(found, key=lambda d: d.number, reverse=True)
            kwargs["NextToken"] = page["NextToken"]

    def deployed(self, environment: str) -> DeployedFlags:
        complete = [d for d in self._deployments(environment) if d.state == "COMPLETE"]
        if not complete:
            raise NotFound(f"flags environment {environment!r} has no completed deployment")
        latest = complete[0]
        raw = _call(f"read flag profile version {latest.version}", self._appconfig.get_hosted_configuration_version,
                    _ERRORS, ApplicationId=self.application_id, ConfigurationProfileId=self.profile_id,
                    VersionNumber=int(latest.version))
        content = raw["Content"].read() if hasattr(raw.get("Content"), "read") else raw.get("Content", b"")
        return DeployedFlags(document=FlagDocument.parse_json(content), deployment=latest)

    def in_progress(self, environment: str) -> FlagDeployment | None:
        return next((d for d in self._deployments(environment) if d.in_progress), None)

    def create_version(self, document: FlagDocument, description: str) -> str:
        listed = _call("list flag profile versions", self._appconfig.list_hosted_configuration_versions, _ERRORS,
                       ApplicationId=self.application_id, ConfigurationProfileId=self.profile_id, MaxResults=50)
        numbers = [int(item["VersionNumber"]) for item in listed.get("Items", [])]
        kwargs: dict[str, Any] = {"ApplicationId": self.application_id, "ConfigurationProfileId": self.profile_id,
                                  "Content": document.to_json(), "ContentType": "application/json",
                                  "Description": description[:1024]}
        if numbers:  # optimistic concurrency: fails when someone created a version since we listed
            kwargs["LatestVersionNumber"] = max(numbers)
        raw = _call(f"create flag profile version ({description})",
                    self._appconfig.create_hosted_configuration_version, _ERRORS, **kwargs)
        return str(raw["VersionNumber"])

    def deploy(self, environment: str, version: str, description: str) -> FlagDeployment:
        raw = _call(f"deploy flag profile version {version} to {environment}", self._appconfig.start_deployment,
                    _ERRORS, ApplicationId=self.application_id, EnvironmentId=self._environment_id(environment),
                    DeploymentStrategyId=self.strategy_id, ConfigurationProfileId=self.profile_id,
                    ConfigurationVersion=version, Description=description[:1024])
        return _deployment(environment, raw)

    def deployment(self, environment: str, number: int) -> FlagDeployment:
        raw = _call(f"read deployment {number} of {environment}", self._appconfig.get_deployment, _ERRORS,
                    ApplicationId=self.application_id, EnvironmentId=self._environment_id(environment),
                    DeploymentNumber=number)
        return _deployment(environment, raw)


def _deployment(environment: str, raw: dict[str, Any]) -> FlagDeployment:
    completed = raw.get("CompletedAt")
    return FlagDeployment(environment=environment, number=int(raw["DeploymentNumber"]),
                          version=str(raw.get("ConfigurationVersion", "")), state=str(raw.get("State", "")),
                          completed_at=completed if isinstance(completed, datetime) else None)
