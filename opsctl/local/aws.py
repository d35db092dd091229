"""Embedded AWS: moto's server app on 127.0.0.1:<free port>, in a background thread.

moto with ``lambda.use_docker: False`` answers Invoke with canned data. A thin WSGI
middleware in front of moto serves the one AWS API path that must reach real code,
``POST /2015-03-31/functions/{name}/invocations``, by calling the registered in-process
handler. That depends only on AWS's public Invoke API, so it keeps working across moto
versions and catches every caller: boto3 in our code, and moto's Step Functions
interpreter, which calls Lambda over HTTP at http://localhost:$MOTO_PORT.

What else moto lacks is added the same way, at AWS API paths and actions (one module each):

- ``lambda_versions``: Invoke of an alias or version runs the version the alias routes to
  (RoutingConfig weights, seedable), with that version's configuration and code, answering
  ``X-Amz-Executed-Version``; UpdateAlias honours and rotates RevisionId;
  ReservedConcurrentExecutions 0 throttles (TooManyRequestsException);
- ``lambda_metrics`` / ``emf``: AWS/Lambda Invocations, Errors, Duration, Throttles per invocation
  and the EMF metrics handlers print, sent to the embedded CloudWatch;
- ``cloudwatch_percentiles``: p50/p95/p99/p99.9... in GetMetricData and GetMetricStatistics;
- ``cloudwatch_alarms``: new alarms start INSUFFICIENT_DATA; ``aws.alarms`` evaluates metric alarms
  from their metrics (one pass, or a background loop) and sets the states that change;
- ``eventbridge_routes``: PutEvents matched against the rules and delivered to Lambda, SQS, Step
  Functions, SNS, Logs and bus targets (Input, InputPath, InputTransformer), and the
  "CloudWatch Alarm State Change" event when SetAlarmState changes an alarm's state;
- ``sqs_event_sources``: SQS event source mappings deliver their queues' messages to the functions in
  batches (BatchSize, MaximumBatchingWindowInSeconds, ReportBatchItemFailures, FilterCriteria), instead
  of moto consuming them itself; ``aws.sqs_event_sources.drain()`` waits for the queues to empty;
- ``s3_events``: objects created in a bucket with EventBridge notifications on emit "Object Created" through the
  EventBridge routing (moto's own delivery bypasses it);
- ``inspector2``: ListFindings (filters, sort, pages) and ListCoverage over seeded findings and coverage
  (``aws.inspector2.seed_findings``, ``seed_coverage``, ``update_finding``);
- ``appconfig``: AppConfig environments, deployment strategies, deployments and the ``appconfigdata`` sessions
  (``aws.appconfig.hold_next_deployment(seconds)`` keeps the next deployment DEPLOYING: the conflict fault).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from .appconfig import EmbeddedAppConfig
from .awsapi import InternalClients, call_app, read_body
from .cloudwatch_alarms import AlarmEvaluator, InitialAlarmState
from .cloudwatch_percentiles import PercentileStatistics
from .eventbridge_routes import AlarmStateChangeEvents, EventBridgeRouter
from .faults import FaultInjectionMiddleware
from .inspector2 import EmbeddedInspector2
from .kms_keys import install as generate_kms_key_pairs_on_first_use
from .lambda_metrics import LambdaMetrics
from .lambda_runtime import (
    DEFAULT_ACCOUNT_ID,
    LAMBDA_EXECUTION_ENV,
    FunctionNotRegistered,
    Handler,
    InvocationResult,
    LambdaRegistry,
    RegisteredFunction,
    parse_function_identifier,
)
from .lambda_versions import AliasRevisions, QualifierNotFound, QualifierResolver, ResolvedInvocation
from .rds_dataplane import RdsDataPlane, credential_scope
from .s3_events import S3EventBridgeNotifications
from .sqs_event_sources import SqsEventSources
from .stepfunctions_events import ExecutionStatusEvents
from .stepfunctions_fixes import StepFunctionsCauses
from .unsupported_services import UnsupportedServices

if TYPE_CHECKING:
    from .postgres import EmbeddedPostgres

__all__ = ["EmbeddedAws", "ExecutionNameMiddleware", "LambdaInvokeMiddleware"]

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations/?$")
# PublishVersion (POST .../versions), UpdateFunctionConfiguration (PUT .../configuration), DeleteFunction,
# UpdateAlias (PUT .../aliases/{name}), Put/DeleteFunctionConcurrency (2017-10-31 .../concurrency)
_CONTROL_PATH = re.compile(
    r"^/\d{4}-\d{2}-\d{2}/functions/(?P<function>[^/]+)"
    r"(?P<rest>/versions|/configuration|/concurrency|/aliases/[^/]+)?/?$"
)

# Step Functions must run executions (not just record them); Lambda must not look for Docker.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

_StartResponse = Callable[..., Any]


class LambdaInvokeMiddleware:
    """WSGI middleware: Lambda Invoke for registered functions; everything else to ``app``.

    Qualified invocations (``name:alias``, ``name:3``, ``Qualifier=...``) run the version the
    alias routes to (``opsctl.local.lambda_versions``) with that version's configuration, and
    answer with ``X-Amz-Executed-Version`` as Lambda does. Each invocation's AWS/Lambda metrics
    and EMF metrics go to the embedded CloudWatch (``opsctl.local.lambda_metrics``).

    It also keeps the in-process registry in step with the control plane (moto): PublishVersion
    freezes the code registered at that moment as the version's code; UpdateFunctionConfiguration
    updates $LATEST's environment, memory and timeout.
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        registry: LambdaRegistry,
        resolver: QualifierResolver | None = None,
        metrics: LambdaMetrics | None = None,
        aliases: AliasRevisions | None = None,
    ) -> None:
        self.app = app
        self.registry = registry
        self.resolver = resolver
        self.metrics = metrics
        self.aliases = aliases
        self._async: set[threading.Thread] = set()  # asynchronous invocations still running
        self._async_lock = threading.Lock()
        # ReservedConcurrentExecutions set through PutFunctionConcurrency, by (region, name): 0 throttles
        # every invocation (TooManyRequestsException), as Lambda does for a function turned off that way.
        self.reserved_concurrency: dict[tuple[str, str], int] = {}

    def __call__(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
        match = _INVOKE_PATH.match(path)
        if match and method == "POST":
            identifier = unquote(match["function"])  # botocore quotes ':' in ARNs
            region = _request_region(environ)
            if self.registry.is_registered(identifier, region):
                return self._invoke(identifier, region, environ, start_response)
            # moto (use_docker False) would answer any name with a canned success, hiding a
            # wrong FunctionName; AWS answers 404 ResourceNotFoundException, and so do we.
            return _not_found(start_response, identifier, region or self.registry.default_region)
        control = _CONTROL_PATH.match(path)
        if control and method in ("POST", "PUT", "DELETE"):
            return self._control_plane(control["function"], control["rest"] or "", method, environ, start_response)
        return self.app(environ, start_response)

    # -- control plane: keep the registry in step ----------------------------------------
    def _control_plane(
        self, function: str, rest: str, method: str, environ: dict[str, Any], start_response: _StartResponse
    ) -> Iterable[bytes]:
        identifier = unquote(function)
        region = _request_region(environ) or self.registry.default_region
        name = parse_function_identifier(identifier)[0] if _ARN_OR_NAME.match(identifier) else identifier
        alias = unquote(rest.removeprefix("/aliases/")) if rest.startswith("/aliases/") else None
        if alias is not None and method == "PUT" and self.aliases is not None:
            revision = _json_body(environ).get("RevisionId")
            if revision and self.aliases.is_stale(region, name, alias, str(revision)):
                return _respond(start_response, "412 Precondition Failed",
                                {"Type": "User", "message": self.aliases.PRECONDITION_MESSAGE},
                                {"X-Amzn-ErrorType": "PreconditionFailedException"})
        response = call_app(self.app, environ)
        if response.code >= 300:
            return response.replay(start_response)
        try:
            body = json.loads(response.body or b"{}")
        except ValueError:
            body = {}
        if alias is not None and method == "PUT" and self.aliases is not None and isinstance(body, dict):
            new_revision = self.aliases.rotate(region, name, alias)
            if new_revision:
                body["RevisionId"] = new_revision
                return response.replay(start_response, json.dumps(body).encode())
        if rest == "/concurrency":
            key = (region, name)
            if method == "PUT" and isinstance(body, dict) and "ReservedConcurrentExecutions" in body:
                self.reserved_concurrency[key] = int(body["ReservedConcurrentExecutions"])
            elif method == "DELETE":
                self.reserved_concurrency.pop(key, None)
        if self.registry.is_registered(identifier, region) and isinstance(body, dict):
            fn = self.registry.lookup(identifier, region)
            if rest == "/versions" and method == "POST" and body.get("Version"):
                self.registry.snapshot_version(fn.arn, str(body["Version"]), fn.region)
            elif rest == "/configuration" and method == "PUT":
                if "Environment" in body:
                    variables = (body["Environment"] or {}).get("Variables") or {}
                    fn.environment = {k: str(v) for k, v in variables.items()}
                fn.memory_mb = int(body.get("MemorySize", fn.memory_mb))
                fn.timeout_seconds = int(body.get("Timeout", fn.timeout_seconds))
        if rest == "" and method == "DELETE":
            if self.resolver is not None:
                self.resolver.clear()
            self.reserved_concurrency.pop((region, name), None)
        return response.replay(start_response)

    # -- data plane ----------------------------------------------------------------------
    def _invoke(
        self, identifier: str, region: str | None, environ: dict[str, Any], start_response: _StartResponse
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _respond(
                start_response,
                "400 Bad Request",
                {"Type": "User", "message": "Could not parse request body into json"},
                {"X-Amzn-ErrorType": "InvalidRequestContentException"},
            )
        try:
            fn = self.registry.lookup(identifier, region)
        except FunctionNotRegistered:  # unregistered between check and call (a reset)
            return _not_found(start_response, identifier, region or self.registry.default_region)
        _name, _arn_region, qualifier = parse_function_identifier(identifier)
        qualifier = qualifier or _query_param(environ, "Qualifier")
        try:
            resolved = self.resolver.resolve(fn.region, fn.name, qualifier) if self.resolver else None
        except QualifierNotFound as exc:
            return _not_found(start_response, str(exc), fn.region)
        version = resolved.config if resolved is not None else None
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "DryRun":
            return _respond(start_response, "204 No Content", None)
        if self.reserved_concurrency.get((fn.region, fn.name)) == 0:
            if self.metrics is not None:
                refused = InvocationResult(payload=None, throttled=True, started_at=time.time(),
                                           executed_version=version.version if version else "$LATEST")
                self.metrics.publish(fn.region, fn.name, resolved, refused)
            return _respond(start_response, "429 Too Many Requests",
                            {"Type": "User", "message": "Rate Exceeded.",
                             "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"},
                            {"X-Amzn-ErrorType": "TooManyRequestsException"})
        if invocation_type == "Event":
            # Asynchronous invoke: accept now, run in the background (serialized like any other).
            worker = threading.Thread(target=self._run_async, args=(fn, event, resolved), daemon=True)
            with self._async_lock:
                self._async.add(worker)
            worker.start()
            return _respond(start_response, "202 Accepted", None,
                            {"X-Amz-Executed-Version": version.version if version else "$LATEST"})
        try:
            # A handler invoking another function synchronously (the alarm router asks the incidents function)
            # waits for the answer while it holds the one-at-a-time lock: its call runs nested, inside it.
            nested = _NESTED_MARK in environ.get("HTTP_USER_AGENT", "")
            result = self._run(fn, event, resolved, nested=nested)
        except FunctionNotRegistered:  # unregistered between check and call (a reset)
            return _not_found(start_response, identifier, region or self.registry.default_region)
        headers = {"X-Amz-Executed-Version": result.executed_version, "X-Amzn-RequestId": result.request_id}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        return _respond(start_response, "200 OK", result.payload, headers)

    def _run_async(self, fn: RegisteredFunction, event: Any, resolved: ResolvedInvocation | None) -> None:
        try:
            self._run(fn, event, resolved)
        finally:
            with self._async_lock:
                self._async.discard(threading.current_thread())

    def drain(self, timeout_seconds: float = 30.0) -> None:
        """Wait for asynchronous invocations still running: stopping the server under them would leave a
        handler calling a dead endpoint (and caching a client for it) while the process goes on."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            with self._async_lock:
                running = list(self._async)
            if not running or time.monotonic() >= deadline:
                return
            running[0].join(max(0.0, deadline - time.monotonic()))

    def _run(self, fn: RegisteredFunction, event: Any, resolved: ResolvedInvocation | None,
             nested: bool = False) -> InvocationResult:
        result = self.registry.invoke(fn.arn, event, region=fn.region,
                                      version=resolved.config if resolved is not None else None, nested=nested)
        if self.metrics is not None:
            self.metrics.publish(fn.region, fn.name, resolved, result)
        return result


#: botocore's User-Agent carries ``exec-env/$AWS_EXECUTION_ENV``: a request made by a function's own code.
_NESTED_MARK = f"exec-env/{LAMBDA_EXECUTION_ENV}"


class ExecutionNameMiddleware:
    """StartExecution without ``name``: fill in a UUID, as AWS does.

    moto 5.2's executing Step Functions backend uses the name ``None`` instead, so a second
    unnamed execution of the same state machine fails with ExecutionAlreadyExists. Fixing the
    request at the public API boundary keeps callers (CLI, Lambdas) written for real AWS.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == "AWSStepFunctions.StartExecution":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None  # malformed: let moto report it
            if isinstance(body, dict) and not body.get("name"):
                body["name"] = str(uuid.uuid4())
                raw = json.dumps(body).encode()
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
        return self.app(environ, start_response)


_ARN_OR_NAME = re.compile(r"^(arn:[\w-]+:lambda:[\w-]+:\d{12}:function:|\d{12}:function:)?[A-Za-z0-9_-]+(:[\w$-]+)?$")


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    raw = read_body(environ)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _query_param(environ: Mapping[str, Any], name: str) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return values[0] if values else None


def _request_region(environ: Mapping[str, Any]) -> str | None:
    """The caller's region from its SigV4 credential scope (an ARN's own region wins later)."""
    return credential_scope(environ).region or None


def _not_found(start_response: _StartResponse, identifier: str, region: str) -> list[bytes]:
    arn = (identifier if identifier.startswith("arn:")
           else f"arn:aws:lambda:{region}:{DEFAULT_ACCOUNT_ID}:function:{identifier}")
    return _respond(
        start_response,
        "404 Not Found",
        {"Type": "User", "message": f"Function not found: {arn} (not registered with the local runtime)"},
        {"X-Amzn-ErrorType": "ResourceNotFoundException"},
    )


def _respond(
    start_response: _StartResponse, status: str, payload: Any, headers: Mapping[str, str] | None = None
) -> list[bytes]:
    body = b"" if payload is None else json.dumps(payload).encode()
    # Every AWS response carries a request id; botocore and moto's Step Functions read it.
    all_headers = {"X-Amzn-RequestId": str(uuid.uuid4()), **(headers or {})}
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *all_headers.items()],
    )
    return [body]


class EmbeddedAws:
    """moto server + Lambda dispatch, with the process environment pointed at it.

    Usage::

        with EmbeddedAws() as aws:
            aws.register("fn", "app.handler", code_dir="functions/backup", environment={...})
            boto3.client("lambda").invoke(FunctionName="fn", Payload=b"{}")
    """

    _active: EmbeddedAws | None = None  # moto's backends and MOTO_PORT are process-global

    def __init__(
        self,
        region: str = "us-east-1",
        *,
        port: int = 0,
        verbose: bool = False,
        postgres: EmbeddedPostgres | None = None,
    ) -> None:
        self.region = region
        self.host = "127.0.0.1"
        self._requested_port = port
        self.port: int | None = None
        self.verbose = verbose
        self.lambdas = LambdaRegistry(default_region=region)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}
        self.faults: FaultInjectionMiddleware | None = None  # set by start(); see opsctl.local.faults
        # RDS instances served by the embedded PostgreSQL; see attach_postgres().
        self.rds_dataplane: RdsDataPlane | None = RdsDataPlane(postgres) if postgres is not None else None
        self._dispatch: Callable[..., Iterable[bytes]] | None = None  # what the data plane wraps
        # Extensions at the public API (see each module): clients they use to call this embedded AWS,
        # alias routing (seed it with aws.lambda_versions.seed(n)), AWS/Lambda + EMF metrics,
        # percentile statistics, EventBridge routing and the alarm state change events.
        self.clients = InternalClients(lambda: self.endpoint_url)
        self.lambda_versions = QualifierResolver(self.clients)
        self.lambda_metrics = LambdaMetrics(self.clients)
        self.percentiles = PercentileStatistics()
        self.events = EventBridgeRouter(self.clients)
        self.alarm_events = AlarmStateChangeEvents(self.clients, self.events)
        self.initial_alarm_state = InitialAlarmState(self.clients)
        # Alarms evaluate their metrics only when asked: aws.alarms.evaluate() (one pass) or .start(10).
        self.alarms = AlarmEvaluator(self.clients, [region])
        self.lambda_dispatch: LambdaInvokeMiddleware | None = None  # set by start()
        self.sfn_causes = StepFunctionsCauses()  # StopExecution / SendTaskFailure keep their error and cause
        # "Step Functions Execution Status Change" events on the default bus, as AWS sends them.
        self.execution_events = ExecutionStatusEvents(self.clients, self.events.emit, [region])
        # SQS event source mappings: a poller that starts with the first mapping created (none: nothing runs).
        # Local knobs: aws.sqs_event_sources.retry_visibility_timeout_seconds, .max_batching_window_seconds.
        self.sqs_event_sources = SqsEventSources(lambda: self.endpoint_url)
        # Services moto lacks (Pricing, Compute Optimizer): a clear 400 at once instead of a retried 500.
        self.unsupported = UnsupportedServices()
        # AppConfig environments, strategies, deployments and the appconfigdata sessions moto lacks.
        # Conflict fault: aws.appconfig.hold_next_deployment(seconds).
        self.appconfig = EmbeddedAppConfig()
        # Inspector2's ListFindings / ListCoverage over seeded records (moto's are canned); seeding or updating a
        # finding emits its "Inspector2 Finding" event on the default bus.
        self.inspector2 = EmbeddedInspector2(emit=self.events.emit)
        # S3 "Object Created" events of buckets with EventBridge notifications on, through the routing above.
        self.s3_events = S3EventBridgeNotifications(self.clients, self.events)
        self._clients: dict[tuple[str, str, str], Any] = {}  # see client()
        self._clients_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        assert self.port is not None, "call start() first"
        return f"http://{self.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> EmbeddedAws:
        if self._server is not None:
            return self
        if EmbeddedAws._active is not None:
            raise RuntimeError("an EmbeddedAws is already running in this process (moto state is global)")
        # moto's Step Functions interpreter logs every caught task error and Fail state at ERROR;
        # here those are workflow outcomes (the execution history has them), not server faults.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        generate_kms_key_pairs_on_first_use()
        # The same app ThreadedMotoServer builds, wrapped by our middleware.
        moto_app = _BackendByHost(create_backend_app)
        # Outermost first: injected faults (any API, Invoke included), the RDS data plane (when
        # attached), Lambda dispatch, CloudWatch extensions (alarm state change events, initial
        # alarm state, percentiles), EventBridge routing, moto fixes, the SQS event source mappings'
        # control plane (moto stores them; sqs_event_sources delivers). Each answers only its own
        # API actions and passes everything else on, so their order among themselves is free.
        extensions = self.s3_events.wrap(self.inspector2.wrap(self.appconfig.wrap(self.unsupported.wrap(
            self.alarm_events.wrap(self.initial_alarm_state.wrap(self.percentiles.wrap(self.events.wrap(
                self.sfn_causes.wrap(self.sqs_event_sources.wrap(ExecutionNameMiddleware(moto_app)))))))))))
        self.lambda_dispatch = LambdaInvokeMiddleware(extensions, self.lambdas, self.lambda_versions,
                                                      self.lambda_metrics, AliasRevisions(self.clients))
        self._dispatch = self.lambda_dispatch
        inner = self.rds_dataplane.wrap(self._dispatch) if self.rds_dataplane else self._dispatch
        self.faults = FaultInjectionMiddleware(inner)
        app = self.faults
        handler_cls = MotoRequestHandler if self.verbose else _QuietMotoRequestHandler
        # Port 0 lets the OS pick: no probe-then-bind race.
        self._server = make_server(self.host, self._requested_port, app, threaded=True, request_handler=handler_cls)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._thread.start()
        EmbeddedAws._active = self
        self._set_env()
        # moto's backends are process-global: an embedded AWS started after another one in the same process
        # (a test module after another) must start from an empty account, not from what the last one deployed.
        self._moto_api("reset", None)
        self.configure()
        self.execution_events.start()
        self.sqs_event_sources.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.sqs_event_sources.stop()  # before the server: a batch being delivered finishes first
        self.alarms.stop()
        self.execution_events.stop()
        if self.lambda_dispatch is not None:
            self.lambda_dispatch.drain()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._dispatch = self.lambda_dispatch = None
        self.clients.clear()  # they point at this server's port
        with self._clients_lock:
            self._clients.clear()
        self._restore_env()
        EmbeddedAws._active = None

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- moto control (public /moto-api endpoints) --------------------------------------
    def configure(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._moto_api("config", dict(config or MOTO_CONFIG))

    def reset(self) -> None:
        """Forget every AWS resource, registered function and injected fault (config stays)."""
        self._moto_api("reset", None)
        self.lambdas.clear()
        self.lambda_versions.clear()
        self.events.clear()
        self.alarms.transitions.clear()
        self.sqs_event_sources.clear()
        self.appconfig.clear()
        self.inspector2.clear()
        self.s3_events.clear()
        if self.lambda_dispatch is not None:
            self.lambda_dispatch.reserved_concurrency.clear()
        if self.rds_dataplane is not None:
            self.rds_dataplane.reset()
        if self.faults is not None:
            self.faults.clear()
        self.configure()

    def _moto_api(self, path: str, body: Any) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/{path}", data=data, method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    # -- RDS data plane ----------------------------------------------------------------
    def attach_postgres(self, postgres: EmbeddedPostgres) -> RdsDataPlane:
        """Serve bound RDS instances from ``postgres`` (before or after start()); see rds_dataplane.

        Installed inside fault injection (faults still see every request first), in front of
        Lambda dispatch. Bind instances with ``aws.rds_dataplane.bind(instance_id, database)``.
        """
        if self.rds_dataplane is not None:
            if self.rds_dataplane.postgres is not postgres:
                raise RuntimeError("a different PostgreSQL is already attached")
            return self.rds_dataplane
        plane = RdsDataPlane(postgres)
        if self.faults is not None and self._dispatch is not None:  # running: splice it in
            self.faults.app = plane.wrap(self._dispatch)
        self.rds_dataplane = plane
        return plane

    # -- Lambda ------------------------------------------------------------------------
    def register(
        self,
        function_name: str,
        handler: Handler | str,
        *,
        code_dir: str | os.PathLike[str] | None = None,
        environment: Mapping[str, str] | None = None,
        region: str | None = None,
        memory_mb: int = 128,
        timeout_seconds: int = 900,
    ) -> RegisteredFunction:
        """Route Invoke of ``function_name`` (name or any ARN form) to ``handler``.

        ``handler`` is a callable, or a "module.func" string loaded from ``code_dir``.
        """
        return self.lambdas.register(
            function_name,
            handler,
            code_dir=code_dir,
            environment=environment,
            region=region,
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client of this embedded AWS; one per service and region (clients are thread-safe, and
        making one costs ~30 ms: a deploy asks for one per resource)."""
        import boto3

        key = (service, region or self.region, self.endpoint_url)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = boto3.client(service, region_name=key[1], endpoint_url=key[2])
            return self._clients[key]

    # -- environment -------------------------------------------------------------------
    def _env(self) -> dict[str, str | None]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # moto's Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT.
            "MOTO_PORT": str(self.port),
            # Injected faults are permanent: three attempts show the retries without ~30 s of back-off.
            "AWS_MAX_ATTEMPTS": "3",
            # A named profile or session token would override the dummy keys: hide them.
            "AWS_PROFILE": None,
            "AWS_DEFAULT_PROFILE": None,
            "AWS_SESSION_TOKEN": None,
            "AWS_SECURITY_TOKEN": None,
        }

    def _set_env(self) -> None:
        wanted = self._env()
        self._saved_env = {key: os.environ.get(key) for key in wanted}
        for key, value in wanted.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}


class _BackendByHost(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host. moto lists its package directory (~170
    folders) to answer that, for every request, under a lock that serializes all requests: ~10 ms of each
    API call on a busy machine. Hosts are few (one per service and region), and what serves one never changes."""

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:  # moto calls this with its lock held
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class _QuietMotoRequestHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's one-line-per-request access log."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass
