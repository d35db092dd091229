"""The ``appconfigdata`` session API of the embedded AWS: StartConfigurationSession and GetLatestConfiguration.

A session names an application, environment and configuration profile (each by id or name). Each
GetLatestConfiguration answers the content of the profile's newest COMPLETE deployment in that environment, or
empty content when the session already received that version (as AppConfig does), with the next token, the poll
interval (the session's RequiredMinimumPollIntervalInSeconds, 60 by default), Content-Type and Version-Label.
A token is good for one call (and 24 hours): a used or unknown token answers BadRequestException. The poll interval
is announced, not enforced (a poll sooner than it is answered, where AppConfig would refuse it).
Nothing deployed yet for the profile answers ResourceNotFoundException (ResourceType Deployment); the token stays
good for the next try.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .appconfig_state import ApiError, AppConfigState, Deployment

__all__ = ["DEFAULT_POLL_SECONDS", "TOKEN_LIFETIME_SECONDS", "AppConfigData"]

DEFAULT_POLL_SECONDS = 60
TOKEN_LIFETIME_SECONDS = 24 * 3600

_Applications = Callable[[str], Mapping[str, Any]]
_Served = Callable[[str, str, str, str], Deployment | None]


@dataclass(frozen=True)
class _Token:
    region: str
    application_id: str
    environment_id: str
    profile_id: str
    poll_seconds: int
    received: str | None  # the ConfigurationVersion this session last received
    issued_at: float


class AppConfigData:
    def __init__(self, state: AppConfigState, applications: _Applications, served: _Served) -> None:
        self.state = state
        self._applications = applications
        self._served = served
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _issue(self, token: _Token) -> str:
        value = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[value] = token
        return value

    def start_session(self, region: str, body: Mapping[str, Any]) -> tuple[int, Any, dict[str, str]]:
        names = ("ApplicationIdentifier", "EnvironmentIdentifier", "ConfigurationProfileIdentifier")
        missing = [n for n in names if not isinstance(body.get(n), str) or not body[n]]
        if missing:
            raise ApiError(400, "BadRequestException", f"{', '.join(missing)} required", Reason="InvalidParameters")
        poll = body.get("RequiredMinimumPollIntervalInSeconds", DEFAULT_POLL_SECONDS)
        if not isinstance(poll, int) or not 15 <= poll <= 86400:
            raise ApiError(400, "BadRequestException", "RequiredMinimumPollIntervalInSeconds must be 15..86400",
                           Reason="InvalidParameters")
        app_ident, env_ident, profile_ident = (str(body[n]) for n in names)
        applications = self._applications(region)
        application = applications.get(app_ident) or next(
            (a for a in applications.values() if a.name == app_ident), None)
        if application is None:
            raise _missing("Application", app_ident, {"ApplicationIdentifier": app_ident})
        with self.state.lock:
            environments = self.state.region(region).environments.get(application.id, {})
            environment = environments.get(env_ident) or next(
                (e for e in environments.values() if e["Name"] == env_ident), None)
        if environment is None:
            raise _missing("Environment", env_ident, {"ApplicationIdentifier": app_ident,
                                                      "EnvironmentIdentifier": env_ident})
        profiles = application.config_profiles
        profile = profiles.get(profile_ident) or next((p for p in profiles.values() if p.name == profile_ident), None)
        if profile is None:
            raise _missing("ConfigurationProfile", profile_ident, {"ApplicationIdentifier": app_ident,
                                                                    "ConfigurationProfileIdentifier": profile_ident})
        token = self._issue(_Token(region, application.id, environment["Id"], profile.id, poll, None,
                                   time.time()))
        return 201, {"InitialConfigurationToken": token}, {}

    def latest_configuration(self, value: str | None) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            token = self._tokens.pop(value, None) if value else None
        if token is None or time.time() - token.issued_at > TOKEN_LIFETIME_SECONDS:
            problem = "Corrupted" if token is None else "Expired"
            raise ApiError(400, "BadRequestException", f"The configuration token is not valid ({problem.lower()}, "
                                                       "or already used: each token is good for one call)",
                           Reason="InvalidParameters",
                           Details={"InvalidParameters": {"ConfigurationToken": {"Problem": problem}}})
        deployment = self._served(token.region, token.application_id, token.environment_id, token.profile_id)
        if deployment is None:
            with self._lock:
                self._tokens[value] = token  # type: ignore[index]  # good for the next try
            raise _missing("Deployment", token.profile_id, {"EnvironmentIdentifier": token.environment_id,
                                                            "ConfigurationProfileIdentifier": token.profile_id},
                           message="no configuration has been deployed to this environment for this profile yet")
        unchanged = deployment.version == token.received
        next_token = self._issue(_Token(token.region, token.application_id, token.environment_id, token.profile_id,
                                        token.poll_seconds, deployment.version, time.time()))
        headers = {"Next-Poll-Configuration-Token": next_token,
                   "Next-Poll-Interval-In-Seconds": str(token.poll_seconds),
                   "Content-Type": deployment.content_type}
        if deployment.version_label:
            headers["Version-Label"] = deployment.version_label
        return 200, b"" if unchanged else deployment.content, headers


def _missing(kind: str, ident: str, referenced_by: dict[str, str], message: str | None = None) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message or f"{kind} {ident} not found",
                    ResourceType=kind, ReferencedBy=referenced_by)
