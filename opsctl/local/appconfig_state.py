"""What the embedded AppConfig keeps that moto 5.2 does not: environments, deployment strategies, deployments.

moto stores applications, configuration profiles and hosted configuration versions; these records sit next to
them, keyed by the ids moto gave. Shapes follow botocore's AppConfig model (``Environment``, ``DeploymentStrategy``,
``Deployment``). A deployment completes at once unless a hold (the conflict fault) keeps it DEPLOYING for a while:
its state is computed when read, so nothing runs in the background.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PREDEFINED_STRATEGIES", "ApiError", "AppConfigState", "Deployment", "DeploymentHold", "new_id", "not_found"]

_ID_ALPHABET = string.ascii_lowercase + string.digits


class ApiError(Exception):
    """An AppConfig error answer: HTTP status, error code (X-Amzn-ErrorType) and message, plus body fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", f"{what} {ident} not found", ResourceName=ident)


def new_id() -> str:
    """7 lowercase alphanumerics, as AppConfig's ids (pattern ``[a-z0-9]{4,7}``)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(7))


def iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, tz=dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _strategy(name: str, minutes: int, growth: float, growth_type: str, bake: int, description: str) -> dict[str, Any]:
    return {"Id": name, "Name": name, "Description": description, "DeploymentDurationInMinutes": minutes,
            "GrowthType": growth_type, "GrowthFactor": growth, "FinalBakeTimeInMinutes": bake, "ReplicateTo": "NONE"}


#: AWS's predefined strategies, listed by ListDeploymentStrategies and usable by id in every region.
PREDEFINED_STRATEGIES: dict[str, dict[str, Any]] = {s["Id"]: s for s in (
    _strategy("AppConfig.AllAtOnce", 0, 100.0, "LINEAR", 10, "Quick"),
    _strategy("AppConfig.Linear50PercentEvery30Seconds", 1, 50.0, "LINEAR", 1, "Test/Demo"),
    _strategy("AppConfig.Canary10Percent20Minutes", 20, 10.0, "EXPONENTIAL", 10, "AWS Recommended"),
    _strategy("AppConfig.Linear20PercentEvery6Minutes", 30, 20.0, "LINEAR", 30, "AWS Recommended"),
)}


@dataclass
class DeploymentHold:
    """Keep the next deployment (to ``environment_id``, or to any environment) DEPLOYING for ``seconds``."""

    seconds: float
    environment_id: str | None = None


@dataclass
class Deployment:
    application_id: str
    environment_id: str
    number: int
    strategy: dict[str, Any]
    profile: dict[str, Any]  # moto's GetConfigurationProfile answer
    version: str  # ConfigurationVersion, as given
    content: bytes  # the hosted version's content when the deployment started
    content_type: str
    version_label: str | None
    description: str | None
    started_at: float
    ready_at: float  # completes at this time (== started_at unless held)
    stopped_at: float | None = None
    stop_state: str | None = None  # ROLLED_BACK (stopped while deploying) or REVERTED (stopped when complete)
    kms_key: str | None = None

    def state(self, now: float) -> str:
        if self.stop_state is not None:
            return self.stop_state
        return "COMPLETE" if now >= self.ready_at else "DEPLOYING"

    def in_progress(self, now: float) -> bool:
        return self.state(now) == "DEPLOYING"

    def summary(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        out: dict[str, Any] = {
            "DeploymentNumber": self.number, "ConfigurationProfileId": self.profile["Id"],
            "ConfigurationName": self.profile.get("Name"), "ConfigurationVersion": self.version,
            "DeploymentDurationInMinutes": self.strategy["DeploymentDurationInMinutes"],
            "GrowthType": self.strategy.get("GrowthType", "LINEAR"), "GrowthFactor": self.strategy["GrowthFactor"],
            "FinalBakeTimeInMinutes": self.strategy.get("FinalBakeTimeInMinutes", 0), "State": state,
            "PercentageComplete": 100.0 if state in ("COMPLETE", "REVERTED") else 0.0,
            "StartedAt": iso(self.started_at), "Type": "USER",
        }
        if state == "COMPLETE":
            out["CompletedAt"] = iso(self.ready_at)
        elif self.stopped_at is not None:
            out["CompletedAt"] = iso(self.stopped_at)
        if self.version_label:
            out["VersionLabel"] = self.version_label
        return out

    def describe(self, now: float) -> dict[str, Any]:
        out = self.summary(now)
        out.pop("Type")
        out.update({"ApplicationId": self.application_id, "EnvironmentId": self.environment_id,
                    "DeploymentStrategyId": self.strategy["Id"],
                    "ConfigurationLocationUri": self.profile.get("LocationUri"),
                    "EventLog": self.event_log(now), "AppliedExtensions": []})
        if self.description:
            out["Description"] = self.description
        if self.kms_key:
            out["KmsKeyIdentifier"] = self.kms_key
        return out

    def event_log(self, now: float) -> list[dict[str, Any]]:
        """Newest first, as AppConfig lists them."""
        events = [_event("DEPLOYMENT_STARTED", "USER", "Deployment started", self.started_at)]
        state = self.state(now)
        if state == "COMPLETE" or (self.stop_state == "REVERTED"):
            events.append(_event("PERCENTAGE_UPDATED", "APPCONFIG", "Configuration deployed to 100.00% of clients",
                                 self.ready_at))
            events.append(_event("DEPLOYMENT_COMPLETED", "APPCONFIG", "Deployment completed", self.ready_at))
        if self.stop_state == "ROLLED_BACK" and self.stopped_at is not None:
            events.append(_event("ROLLBACK_STARTED", "USER", "Rollback initiated by user", self.stopped_at))
            events.append(_event("ROLLBACK_COMPLETED", "APPCONFIG", "Rollback completed", self.stopped_at))
        if self.stop_state == "REVERTED" and self.stopped_at is not None:
            events.append(_event("REVERT_COMPLETED", "USER", "Configuration reverted by user", self.stopped_at))
        return list(reversed(events))


def _event(kind: str, by: str, description: str, at: float) -> dict[str, Any]:
    return {"EventType": kind, "TriggeredBy": by, "Description": description, "ActionInvocations": [],
            "OccurredAt": iso(at)}


@dataclass
class _Region:
    environments: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # app id -> env id -> env
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)  # strategy id -> strategy
    deployments: dict[tuple[str, str], list[Deployment]] = field(default_factory=dict)  # (app, env) -> by number


class AppConfigState:
    """Records by region, behind one lock (the server is threaded)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._regions: dict[str, _Region] = {}
        self._holds: list[DeploymentHold] = []
        self.clock = time.time  # replaceable in tests that need a later "now"

    def region(self, name: str) -> _Region:
        return self._regions.setdefault(name, _Region())

    def hold_next_deployment(self, seconds: float, environment_id: str | None = None) -> None:
        """The next StartDeployment (to ``environment_id``, or any) stays DEPLOYING for ``seconds``: a second
        StartDeployment to that environment meanwhile answers ConflictException, as AppConfig does."""
        if seconds <= 0:
            raise ValueError("a deployment hold needs seconds > 0")
        with self.lock:
            self._holds.append(DeploymentHold(seconds, environment_id))

    def take_hold(self, environment_id: str) -> DeploymentHold | None:
        with self.lock:
            for hold in self._holds:
                if hold.environment_id in (None, environment_id):
                    self._holds.remove(hold)
                    return hold
        return None

    def clear(self) -> None:
        with self.lock:
            self._regions.clear()
            self._holds.clear()
