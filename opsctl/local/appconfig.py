"""AppConfig in the embedded AWS: what moto 5.2 lacks, served at AppConfig's public REST paths.

moto keeps applications, configuration profiles and hosted configuration versions. Here, in front of it:

- environments: Create/Get/List/Update/DeleteEnvironment (per application, 7-character ids, Monitors stored);
- deployment strategies: Create/Get/List/Update/DeleteDeploymentStrategy, AWS's predefined ``AppConfig.*`` too;
- deployments: StartDeployment reads the profile and hosted version through moto's API (in-process), runs the
  profile's JSON_SCHEMA validators (BadRequestException, Reason InvalidConfiguration, when the document fails one)
  and completes at once (COMPLETE, 100 %, an EventLog); GetDeployment, ListDeployments (newest first),
  StopDeployment (DEPLOYING -> ROLLED_BACK; COMPLETE with Allow-Revert -> REVERTED). A second StartDeployment
  while one is DEPLOYING answers ConflictException, as AppConfig does: ``hold_next_deployment(seconds)`` keeps
  the next one DEPLOYING that long so a caller can meet the conflict. Strategies' durations and bake times
  are recorded, not waited for;
- ListApplications and ListHostedConfigurationVersions (newest first), which moto lacks, from moto's records;
- CreateHostedConfigurationVersion's ``Latest-Version-Number``: ConflictException unless it names the latest;
- the ``appconfigdata`` session API (``opsctl.local.appconfig_data``);
- faults: ``add_fault(Fault(...))`` answers an AWS error to the operation it names (REST operations are not
  seen by ``opsctl.local.faults``), e.g. ``appconfigdata:GetLatestConfiguration`` for a store outage.

AppConfig and AppConfigData both sign as ``appconfig``; their paths do not overlap. moto answers a missing
resource with HTTP 400; AWS (and so this layer) with 404.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from .appconfig_data import AppConfigData
from .appconfig_state import PREDEFINED_STRATEGIES, ApiError, AppConfigState, Deployment, new_id, not_found
from .awsapi import CapturedResponse, StartResponse, WsgiApp, call_app, credential_scope, read_body, respond
from .faults import Fault
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["EmbeddedAppConfig", "moto_applications"]

_APP = r"/applications/(?P<app>[^/]+)"
_ENV = _APP + r"/environments/(?P<env>[^/]+)"
_VERSIONS = _APP + r"/configurationprofiles/(?P<profile>[^/]+)/hostedconfigurationversions"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [(m, re.compile(f"^{p}/?$"), op) for m, p, op in (
    ("GET", r"/applications", "list_applications"),
    ("DELETE", _APP, "delete_application"),
    ("POST", _APP + r"/environments", "create_environment"),
    ("GET", _APP + r"/environments", "list_environments"),
    ("GET", _ENV, "get_environment"),
    ("PATCH", _ENV, "update_environment"),
    ("DELETE", _ENV, "delete_environment"),
    ("POST", _ENV + r"/deployments", "start_deployment"),
    ("GET", _ENV + r"/deployments", "list_deployments"),
    ("GET", _ENV + r"/deployments/(?P<number>[^/]+)", "get_deployment"),
    ("DELETE", _ENV + r"/deployments/(?P<number>[^/]+)", "stop_deployment"),
    ("POST", r"/deploymentstrategies", "create_strategy"),
    ("GET", r"/deploymentstrategies", "list_strategies"),
    ("GET", r"/deploymentstrategies/(?P<strategy>[^/]+)", "get_strategy"),
    ("PATCH", r"/deploymentstrategies/(?P<strategy>[^/]+)", "update_strategy"),
    ("DELETE", r"/deployementstrategies/(?P<strategy>[^/]+)", "delete_strategy"),  # sic: AWS's path
    ("POST", _VERSIONS, "create_hosted_version"),
    ("GET", _VERSIONS, "list_hosted_versions"),
    ("GET", _VERSIONS + r"/(?P<version>[^/]+)", "get_hosted_version"),
    ("POST", r"/configurationsessions", "start_session"),
    ("GET", r"/configuration", "latest_configuration"),
)]

#: Our handler -> the AWS operation it serves (what a fault names: ``appconfigdata:GetLatestConfiguration``).
_OPERATIONS = {
    "list_applications": "appconfig:ListApplications", "delete_application": "appconfig:DeleteApplication",
    "create_environment": "appconfig:CreateEnvironment", "list_environments": "appconfig:ListEnvironments",
    "get_environment": "appconfig:GetEnvironment", "update_environment": "appconfig:UpdateEnvironment",
    "delete_environment": "appconfig:DeleteEnvironment", "start_deployment": "appconfig:StartDeployment",
    "list_deployments": "appconfig:ListDeployments", "get_deployment": "appconfig:GetDeployment",
    "stop_deployment": "appconfig:StopDeployment", "create_strategy": "appconfig:CreateDeploymentStrategy",
    "list_strategies": "appconfig:ListDeploymentStrategies", "get_strategy": "appconfig:GetDeploymentStrategy",
    "update_strategy": "appconfig:UpdateDeploymentStrategy", "delete_strategy": "appconfig:DeleteDeploymentStrategy",
    "create_hosted_version": "appconfig:CreateHostedConfigurationVersion",
    "list_hosted_versions": "appconfig:ListHostedConfigurationVersions",
    "get_hosted_version": "appconfig:GetHostedConfigurationVersion",
    "start_session": "appconfigdata:StartConfigurationSession",
    "latest_configuration": "appconfigdata:GetLatestConfiguration",
}
#: Path segments by the API's parameter names (what a fault's ``Param=value`` names).
_PARAMETERS = {"app": "ApplicationId", "env": "EnvironmentId", "profile": "ConfigurationProfileId",
               "number": "DeploymentNumber", "strategy": "DeploymentStrategyId", "version": "VersionNumber"}


def moto_applications(account_id: str, region: str) -> Mapping[str, Any]:
    """moto's AppConfig applications by id (each with ``.name`` and ``.config_profiles``). Read in-process where
    no API answers: moto has no ListApplications nor ListHostedConfigurationVersions."""
    from moto.appconfig.models import appconfig_backends

    return appconfig_backends[account_id][region].applications


class _Request:
    def __init__(self, environ: dict[str, Any], match: re.Match[str]) -> None:
        self.environ = environ
        self.region = credential_scope(environ).region or "us-east-1"
        self.path = {k: unquote(v) for k, v in match.groupdict().items()}
        self.query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self.raw = read_body(environ)

    def json(self) -> dict[str, Any]:
        try:
            body = json.loads(self.raw or b"{}")
        except ValueError as exc:
            raise ApiError(400, "BadRequestException", f"request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequestException", "request body must be a JSON object")
        return body

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))


_STATUS = {200: "200 OK", 201: "201 Created", 202: "202 Accepted", 204: "204 No Content", 400: "400 Bad Request",
           403: "403 Forbidden", 404: "404 Not Found", 409: "409 Conflict", 429: "429 Too Many Requests",
           500: "500 Internal Server Error", 503: "503 Service Unavailable"}


def _page(items: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """MaxResults / NextToken over a list (the token is an offset)."""
    try:
        start = int(query.get("next_token", "0"))
        size = int(query.get("max_results", "50"))
    except ValueError as exc:
        raise ApiError(400, "BadRequestException", f"invalid paging parameter: {exc}") from exc
    out: dict[str, Any] = {"Items": items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


class EmbeddedAppConfig:
    """The AppConfig extension of the embedded AWS (``aws.appconfig``)."""

    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self.account_id = account_id
        self.state = AppConfigState()
        self.data = AppConfigData(self.state, self._applications, self.served)
        self._faults: list[Fault] = []
        self.injected: list[tuple[str, str | None]] = []  # (operation, the fault's parameter) of each answered

    # -- public hooks --------------------------------------------------------------------
    def hold_next_deployment(self, seconds: float, environment_id: str | None = None) -> None:
        """The next StartDeployment (to ``environment_id``, or any) stays DEPLOYING for ``seconds``."""
        self.state.hold_next_deployment(seconds, environment_id)

    def add_fault(self, fault: Fault) -> None:
        """Answer ``fault``'s error to the AppConfig/AppConfigData operation it names, until clear_faults().

        ``opsctl.local.faults`` matches JSON and query protocols only; AppConfig is REST, so its faults are
        matched here, by operation (``appconfigdata:GetLatestConfiguration``, ``appconfig:StartDeployment``) and
        optionally a parameter (``EnvironmentId=abc1234``, ``ApplicationIdentifier=churnguard-ops-flags``)."""
        with self.state.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.state.lock:
            self._faults.clear()

    def clear(self) -> None:
        self.state.clear()
        self.data.clear()
        self.clear_faults()

    def served(self, region: str, app_id: str, env_id: str, profile_id: str) -> Deployment | None:
        """The deployment whose content the environment serves for the profile: its newest COMPLETE one."""
        with self.state.lock:
            deployments = self.state.region(region).deployments.get((app_id, env_id), [])
            now = self.state.clock()
            return next((d for d in reversed(deployments)
                         if d.profile["Id"] == profile_id and d.state(now) == "COMPLETE"), None)

    # -- WSGI ----------------------------------------------------------------------------
    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if credential_scope(environ).service != "appconfig":
                return app(environ, start_response)
            method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
            for route_method, pattern, operation in _ROUTES:
                match = pattern.match(path) if route_method == method else None
                if match:
                    request = _Request(environ, match)
                    fault = self._fault(_OPERATIONS[operation], request)
                    if fault is not None:
                        body = {"Message": fault.message}
                        status_line = f"{fault.status} {_STATUS.get(fault.status, 'Injected').split(' ', 1)[-1]}"
                        return respond(start_response, status_line, body, {"X-Amzn-ErrorType": fault.code})
                    try:
                        status, payload, headers = getattr(self, operation)(request, app)
                    except ApiError as err:
                        body = {"Message": err.message, **err.extra}
                        return respond(start_response, _STATUS[err.status], body, {"X-Amzn-ErrorType": err.code})
                    if isinstance(payload, bytes):
                        content_type = next((headers.pop(k) for k in list(headers) if k.lower() == "content-type"),
                                            "application/octet-stream")
                        return respond(start_response, _STATUS[status], payload, headers, content_type=content_type)
                    return respond(start_response, _STATUS[status], payload, headers)
            return self._moto(app, environ).replay(start_response)
        return middleware

    def _fault(self, operation: str, request: _Request) -> Fault | None:
        with self.state.lock:
            if not self._faults:
                return None
            faults = list(self._faults)
        params = {_PARAMETERS.get(k, k): v for k, v in request.path.items()}
        params.update({k: v for k, v in request.query.items()})
        try:
            params.update({k: str(v) for k, v in json.loads(request.raw or b"{}").items() if isinstance(v, (str, int))})
        except (ValueError, AttributeError):
            pass
        for fault in faults:
            if fault.operation.lower() == operation.lower() and _fault_matches(fault.parameter, params):
                self.injected.append((operation, fault.parameter))
                return fault
        return None

    def _moto_get(self, app: WsgiApp, environ: dict[str, Any], path: str) -> CapturedResponse:
        """GET ``path`` of moto's AppConfig API with the caller's credentials; an error answer raises ApiError."""
        inner = {**environ, "REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path, "REQUEST_URI": path,
                 "QUERY_STRING": "", "CONTENT_LENGTH": "0", "wsgi.input": io.BytesIO(b"")}
        inner.pop("CONTENT_TYPE", None)
        response = self._moto(app, inner)
        if response.code >= 300:
            try:
                message = json.loads(response.body).get("message", "") if response.body else ""
            except ValueError:
                message = response.body.decode(errors="replace")
            raise ApiError(response.code, response.header("X-Amzn-ErrorType") or "BadRequestException",
                           message or f"{path} answered {response.status}")
        return response

    def _moto(self, app: WsgiApp, environ: dict[str, Any]) -> CapturedResponse:
        response = call_app(app, environ)
        if response.code == 400 and response.header("X-Amzn-ErrorType") == "ResourceNotFoundException":
            response.status = "404 Not Found"
        # moto writes an absent Description/VersionLabel header as the string "None"
        response.headers = [(k, v) for k, v in response.headers
                            if not (k.lower() in ("description", "versionlabel") and v == "None")]
        return response

    # -- applications and hosted versions -----------------------------------------------
    def _applications(self, region: str) -> Mapping[str, Any]:
        return moto_applications(self.account_id, region)

    def _application(self, request: _Request) -> Any:
        application = self._applications(request.region).get(request.path["app"])
        if application is None:
            raise not_found("Application", request.path["app"])
        return application

    def list_applications(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        items = [{"Id": a.id, "Name": a.name, **({"Description": a.description} if a.description else {})}
                 for a in self._applications(request.region).values()]
        return 200, _page(items, request.query), {}

    def delete_application(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        self._application(request)
        response = self._moto(app, request.environ)
        with self.state.lock:
            region = self.state.region(request.region)
            region.environments.pop(request.path["app"], None)
            for key in [k for k in region.deployments if k[0] == request.path["app"]]:
                del region.deployments[key]
        if response.code >= 300:
            return response.code, response.body, {"X-Amzn-ErrorType": response.header("X-Amzn-ErrorType") or ""}
        return 204, None, {}

    def _profile(self, request: _Request) -> Any:
        profile = self._application(request).config_profiles.get(request.path["profile"])
        if profile is None:
            raise not_found("ConfigurationProfile", request.path["profile"])
        return profile

    def create_hosted_version(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        latest_given = request.header("Latest-Version-Number")
        with self.state.lock:  # check and create as one step: two writers cannot both pass the check
            profile = self._profile(request)
            latest = max(profile.config_versions, default=0)
            if latest_given is not None and latest_given.strip() != str(latest):
                raise ApiError(409, "ConflictException",
                               f"Latest-Version-Number {latest_given} is not the latest version of configuration "
                               f"profile {request.path['profile']} (the latest is {latest})")
            response = self._moto(app, request.environ)
        headers = {k: v for k, v in response.headers if k.lower() not in ("content-length", "x-amzn-requestid")}
        return response.code if response.code >= 300 else 201, response.body, headers

    def get_hosted_version(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        self._profile(request)
        response = self._moto(app, request.environ)
        headers = {k: v for k, v in response.headers if k.lower() not in ("content-length", "x-amzn-requestid")}
        return response.code, response.body, headers

    def list_hosted_versions(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        profile = self._profile(request)
        label = request.query.get("version_label")
        items = []
        for number in sorted(profile.config_versions, reverse=True):
            version = profile.config_versions[number]
            version_label = version.version_label if version.version_label not in (None, "None") else None
            if label is not None and not _label_matches(label, version_label):
                continue
            item = {"ApplicationId": version.app_id, "ConfigurationProfileId": version.config_id,
                    "VersionNumber": number, "ContentType": version.content_type}
            if version.description not in (None, "None"):
                item["Description"] = version.description
            if version_label:
                item["VersionLabel"] = version_label
            items.append(item)
        return 200, _page(items, request.query), {}

    # -- environments -------------------------------------------------------------------
    def _environments(self, request: _Request) -> dict[str, dict[str, Any]]:
        self._application(request)
        return self.state.region(request.region).environments.setdefault(request.path["app"], {})

    def _environment(self, request: _Request) -> dict[str, Any]:
        environment = self._environments(request).get(request.path["env"])
        if environment is None:
            raise not_found("Environment", request.path["env"])
        return environment

    def _environment_view(self, request: _Request, environment: dict[str, Any]) -> dict[str, Any]:
        deployments = self.state.region(request.region).deployments.get((environment["ApplicationId"],
                                                                         environment["Id"]), [])
        now = self.state.clock()
        state = "READY_FOR_DEPLOYMENT"
        if deployments:
            last = deployments[-1].state(now)
            state = {"DEPLOYING": "DEPLOYING", "ROLLED_BACK": "ROLLED_BACK", "REVERTED": "REVERTED"}.get(
                last, "READY_FOR_DEPLOYMENT")
        return {**environment, "State": state}

    def create_environment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        body = request.json()
        name = body.get("Name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "BadRequestException", "Name is required")
        monitors = body.get("Monitors") or []
        if not isinstance(monitors, list) or not all(isinstance(m, dict) and m.get("AlarmArn") for m in monitors):
            raise ApiError(400, "BadRequestException", "Monitors must be a list of {AlarmArn, AlarmRoleArn}")
        with self.state.lock:
            environments = self._environments(request)
            if any(e["Name"] == name for e in environments.values()):
                raise ApiError(409, "ConflictException", f"An environment named {name} already exists")
            env_id = new_id()
            environment: dict[str, Any] = {"ApplicationId": request.path["app"], "Id": env_id, "Name": name,
                                           "Monitors": monitors}
            if body.get("Description"):
                environment["Description"] = body["Description"]
            environments[env_id] = environment
            return 201, self._environment_view(request, environment), {}

    def get_environment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            return 200, self._environment_view(request, self._environment(request)), {}

    def list_environments(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            items = [self._environment_view(request, e) for e in self._environments(request).values()]
        return 200, _page(items, request.query), {}

    def update_environment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        body = request.json()
        with self.state.lock:
            environment = self._environment(request)
            for key in ("Name", "Description", "Monitors"):
                if key in body:
                    environment[key] = body[key]
            return 200, self._environment_view(request, environment), {}

    def delete_environment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            environment = self._environment(request)
            if self._environment_view(request, environment)["State"] == "DEPLOYING":
                raise ApiError(409, "ConflictException", f"Environment {environment['Id']} has a deployment in "
                                                         "progress")
            del self._environments(request)[environment["Id"]]
            self.state.region(request.region).deployments.pop((request.path["app"], environment["Id"]), None)
        return 204, None, {}

    # -- deployment strategies ----------------------------------------------------------
    def _strategy(self, region: str, strategy_id: str) -> dict[str, Any]:
        strategy = PREDEFINED_STRATEGIES.get(strategy_id) or self.state.region(region).strategies.get(strategy_id)
        if strategy is None:
            raise not_found("DeploymentStrategy", strategy_id)
        return strategy

    def create_strategy(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        body = request.json()
        missing = [k for k in ("Name", "DeploymentDurationInMinutes", "GrowthFactor") if body.get(k) is None]
        if missing:
            raise ApiError(400, "BadRequestException", f"{', '.join(missing)} required")
        strategy = {"Id": new_id(), "Name": body["Name"],
                    "DeploymentDurationInMinutes": int(body["DeploymentDurationInMinutes"]),
                    "GrowthType": body.get("GrowthType", "LINEAR"), "GrowthFactor": float(body["GrowthFactor"]),
                    "FinalBakeTimeInMinutes": int(body.get("FinalBakeTimeInMinutes", 0)),
                    "ReplicateTo": body.get("ReplicateTo", "NONE")}
        if body.get("Description"):
            strategy["Description"] = body["Description"]
        with self.state.lock:
            self.state.region(request.region).strategies[strategy["Id"]] = strategy
        return 201, strategy, {}

    def get_strategy(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        return 200, self._strategy(request.region, request.path["strategy"]), {}

    def list_strategies(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            items = [*PREDEFINED_STRATEGIES.values(), *self.state.region(request.region).strategies.values()]
        return 200, _page(items, request.query), {}

    def update_strategy(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        if request.path["strategy"] in PREDEFINED_STRATEGIES:
            raise ApiError(400, "BadRequestException", "a predefined deployment strategy cannot be changed")
        body = request.json()
        with self.state.lock:
            strategy = self._strategy(request.region, request.path["strategy"])
            for key in ("Description", "DeploymentDurationInMinutes", "FinalBakeTimeInMinutes", "GrowthFactor",
                        "GrowthType"):
                if key in body:
                    strategy[key] = body[key]
        return 200, strategy, {}

    def delete_strategy(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        if request.path["strategy"] in PREDEFINED_STRATEGIES:
            raise ApiError(400, "BadRequestException", "a predefined deployment strategy cannot be deleted")
        with self.state.lock:
            self._strategy(request.region, request.path["strategy"])
            del self.state.region(request.region).strategies[request.path["strategy"]]
        return 204, None, {}

    # -- deployments --------------------------------------------------------------------
    def _deployment(self, request: _Request) -> Deployment:
        environment = self._environment(request)
        deployments = self.state.region(request.region).deployments.get((request.path["app"], environment["Id"]), [])
        number = request.path["number"]
        if not number.isdigit() or not 1 <= int(number) <= len(deployments):
            raise not_found("Deployment", number)
        return deployments[int(number) - 1]

    def start_deployment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        body = request.json()
        missing = [k for k in ("DeploymentStrategyId", "ConfigurationProfileId", "ConfigurationVersion")
                   if not body.get(k)]
        if missing:
            raise ApiError(400, "BadRequestException", f"{', '.join(missing)} required")
        with self.state.lock:
            self._environment(request)
            strategy = dict(self._strategy(request.region, str(body["DeploymentStrategyId"])))
        app_id, profile_id, version = request.path["app"], str(body["ConfigurationProfileId"]), \
            str(body["ConfigurationVersion"])
        # Through moto's own API (in-process, no socket): the profile, then the hosted version.
        profile_path = f"/applications/{quote(app_id)}/configurationprofiles/{quote(profile_id)}"
        profile = json.loads(self._moto_get(app, request.environ, profile_path).body)
        if profile.get("LocationUri") != "hosted":
            raise ApiError(400, "BadRequestException", f"configuration profile {profile_id} is not hosted: the "
                                                       "embedded AppConfig deploys hosted configurations only")
        if not version.isdigit():
            raise ApiError(400, "BadRequestException", f"ConfigurationVersion {version!r} is not a hosted "
                                                       "configuration version number")
        hosted_response = self._moto_get(app, request.environ, f"{profile_path}/hostedconfigurationversions/{version}")
        content, label = hosted_response.body, hosted_response.header("VersionLabel")
        content_type = hosted_response.header("Content-Type") or "application/octet-stream"
        _validate(profile, content)
        with self.state.lock:
            environment = self._environment(request)
            deployments = self.state.region(request.region).deployments.setdefault((app_id, environment["Id"]), [])
            now = self.state.clock()
            running = next((d for d in deployments if d.in_progress(now)), None)
            if running is not None:
                raise ApiError(409, "ConflictException", f"Deployment {running.number} to environment "
                                                         f"{environment['Id']} is in progress")
            latest = body.get("LatestDeploymentNumber")
            if latest is not None and int(latest) != len(deployments):
                raise ApiError(409, "ConflictException", f"LatestDeploymentNumber {latest} is not the latest "
                                                         f"deployment ({len(deployments)})")
            hold = self.state.take_hold(environment["Id"])
            deployment = Deployment(
                application_id=app_id, environment_id=environment["Id"], number=len(deployments) + 1,
                strategy=strategy, profile=profile, version=version, content=content,
                content_type=content_type, version_label=label, description=body.get("Description"),
                started_at=now, ready_at=now + (hold.seconds if hold else 0.0),
                kms_key=body.get("KmsKeyIdentifier"))
            deployments.append(deployment)
            return 201, deployment.describe(now), {}

    def get_deployment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            return 200, self._deployment(request).describe(self.state.clock()), {}

    def list_deployments(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        with self.state.lock:
            environment = self._environment(request)
            now = self.state.clock()
            items = [d.summary(now) for d in reversed(
                self.state.region(request.region).deployments.get((request.path["app"], environment["Id"]), []))]
        return 200, _page(items, request.query), {}

    def stop_deployment(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        allow_revert = (request.header("Allow-Revert") or "").lower() == "true"
        with self.state.lock:
            deployment = self._deployment(request)
            now = self.state.clock()
            state = deployment.state(now)
            if state == "DEPLOYING":
                deployment.stop_state = "ROLLED_BACK"
            elif state == "COMPLETE" and allow_revert:
                deployment.stop_state = "REVERTED"
            elif state == "COMPLETE":
                raise ApiError(400, "BadRequestException", f"Deployment {deployment.number} is complete: only a "
                                                           "revert (AllowRevert) can stop it")
            else:
                raise ApiError(400, "BadRequestException", f"Deployment {deployment.number} is already {state}")
            deployment.stopped_at = now
            return 202, deployment.describe(now), {}

    # -- appconfigdata ------------------------------------------------------------------
    def start_session(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        return self.data.start_session(request.region, request.json())

    def latest_configuration(self, request: _Request, app: WsgiApp) -> tuple[int, Any, dict[str, str]]:
        return self.data.latest_configuration(request.query.get("configuration_token"))


def _fault_matches(parameter: str | None, params: Mapping[str, str]) -> bool:
    if parameter is None:
        return True
    key, _, value = parameter.partition("=")
    return params.get(key) == value


def _label_matches(pattern: str, label: str | None) -> bool:
    if label is None:
        return False
    return label.startswith(pattern[:-1]) if pattern.endswith("*") else label == pattern


def _validate(profile: Mapping[str, Any], content: bytes) -> None:
    """The profile's JSON_SCHEMA validators, run when a deployment starts (as AppConfig does): a document that
    fails one is BadRequestException, Reason InvalidConfiguration, naming each violation. LAMBDA validators are
    not run by the embedded AWS."""
    schemas = [v.get("Content", "") for v in profile.get("Validators") or [] if v.get("Type") == "JSON_SCHEMA"]
    if not schemas:
        return
    import jsonschema  # type: ignore[import-untyped]  # with moto[server] (cfn-lint needs it)

    try:
        document = json.loads(content)
    except ValueError as exc:
        raise ApiError(400, "BadRequestException", f"configuration is not JSON: {exc}", Reason="InvalidConfiguration",
                       Details={"InvalidConfiguration": [{"Type": "JSON_SCHEMA", "Reason": str(exc)}]}) from exc
    problems = []
    for schema in schemas:
        validator = jsonschema.validators.validator_for(json.loads(schema))(json.loads(schema))
        for error in validator.iter_errors(document):
            problems.append({"Type": "JSON_SCHEMA", "Constraint": str(error.validator),
                             "Location": error.json_path, "Reason": error.message, "Value": json.dumps(error.instance)})
    if problems:
        raise ApiError(400, "BadRequestException", "configuration failed validation: " + "; ".join(
            f"{p['Location']}: {p['Reason']}" for p in problems[:5]), Reason="InvalidConfiguration",
            Details={"InvalidConfiguration": problems})
