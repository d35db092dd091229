"""Helpers for WSGI middlewares that extend the embedded AWS at its public API.

A middleware sees the raw AWS request (SigV4 headers, a JSON or query body, a REST path) and
either answers it, rewrites it, or lets moto answer and post-processes the response. These
helpers read a request once (leaving the body readable for the next app), tell which AWS
operation it is in which wire protocol, call the inner app to capture its response, and
answer in AWS's error shapes.

Protocols: botocore picks the first protocol of a service's ``protocols`` list that it supports,
in its own priority order (json, rest-json, rest-xml, smithy-rpc-v2-cbor, query). For CloudWatch,
whose model lists ``smithy-rpc-v2-cbor, json, query``, botocore >= 1.40 therefore speaks awsJson1_0
(``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``); older clients speak query
(``Action=<Operation>``). Both are understood here; CBOR (which moto cannot parse either) is not.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs

__all__ = ["AwsRequest", "CapturedResponse", "InternalClients", "call_app", "credential_scope", "json_error",
           "read_body", "respond"]

WsgiApp = Callable[..., Iterable[bytes]]
StartResponse = Callable[..., Any]


@dataclass
class AwsRequest:
    """One request as an AWS operation: service, operation name, protocol and parameters."""

    service: str  # SigV4 signing name: "monitoring", "events", "lambda", ...
    region: str
    operation: str  # "GetMetricData"; "" when not an RPC-style request (REST paths)
    protocol: str  # "json" | "query" | "rest"
    raw: bytes
    params: dict[str, Any] = field(default_factory=dict)  # JSON body, or flat query parameters

    @classmethod
    def read(cls, environ: dict[str, Any]) -> AwsRequest:
        """Parse ``environ``'s request; its body stays readable by the next app."""
        raw = read_body(environ)
        scope = credential_scope(environ)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        content_type = environ.get("CONTENT_TYPE", "")
        if target:
            try:
                params = json.loads(raw or b"{}")
            except ValueError:
                params = {}
            return cls(scope.service, scope.region, target.rsplit(".", 1)[-1], "json", raw,
                       params if isinstance(params, dict) else {})
        if content_type.startswith("application/x-www-form-urlencoded") or (
            environ.get("REQUEST_METHOD") == "POST" and raw.startswith(b"Action=")
        ):
            form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace"), keep_blank_values=True).items()}
            return cls(scope.service, scope.region, form.get("Action", ""), "query", raw, form)
        return cls(scope.service, scope.region, "", "rest", raw, {})

    def replace_body(self, environ: dict[str, Any], body: bytes) -> None:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        self.raw = body


class SigV4Scope(NamedTuple):
    region: str
    service: str


def credential_scope(environ: Mapping[str, Any]) -> SigV4Scope:
    """Region and service from ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/region/service/...``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in auth:
        return SigV4Scope("", "")
    parts = auth.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
    return SigV4Scope(parts[2], parts[3]) if len(parts) >= 5 else SigV4Scope("", "")


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)  # let the next app read it again
    return raw


@dataclass
class CapturedResponse:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def replay(self, start_response: StartResponse, body: bytes | None = None) -> list[bytes]:
        body = self.body if body is None else body
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        start_response(self.status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


def call_app(app: WsgiApp, environ: dict[str, Any]) -> CapturedResponse:
    """Run the inner app and capture its whole response (status, headers, body)."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, list(headers)
        return lambda _chunk: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return CapturedResponse(captured["status"], captured["headers"], body)


def respond(
    start_response: StartResponse, status: str, payload: Any, headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> list[bytes]:
    body = b"" if payload is None else payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    # Every AWS response carries a request id; botocore and moto's Step Functions read it.
    all_headers = {"X-Amzn-RequestId": str(uuid.uuid4()), **(headers or {})}
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                            *all_headers.items()])
    return [body]


def json_error(start_response: StartResponse, status: str, code: str, message: str) -> list[bytes]:
    """An awsJson error (``__type`` + ``message``), as JSON-protocol services answer."""
    return respond(start_response, status, {"__type": code, "message": message},
                   {"X-Amzn-ErrorType": code}, content_type="application/x-amz-json-1.1")


class InternalClients:
    """boto3 clients the extensions use to call the embedded AWS through its public API.

    Created lazily (the port is known only once the server runs), cached per (service, region)
    (a client costs ~50 ms to build; a built client is thread-safe), with explicit dummy
    credentials: handlers overlay os.environ while they run, so the environment is not a
    reliable source of credentials for a client built in another thread meanwhile.
    """

    def __init__(self, endpoint_url: Callable[[], str]) -> None:
        self._endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        # One session for all of them: a session loads each service's model once (~0.1 s a model), and a
        # session per client loaded them again each time. Clients are made under the lock (sessions are not
        # thread-safe); the clients themselves are.
        self._session: Any = None

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    import boto3
                    from botocore.config import Config

                    if self._session is None:
                        self._session = boto3.session.Session()
                    client = self._session.client(
                        service, region_name=region, endpoint_url=self._endpoint_url(),
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                    )
                    self._clients[key] = client
        return client

    def clear(self) -> None:
        with self._lock:
            self._clients.clear()
