"""Fault injection for the embedded AWS: make chosen API calls fail the way AWS fails them.

A rule matches an operation (``rds:CreateDBSnapshot``) and, optionally, a request parameter value
(``DBInstanceIdentifier=churnguard-prod``), and answers with an AWS error (``Throttling`` by
default) instead of reaching moto. The runtime code under test is unchanged; it only sees AWS
misbehave, which is the point: it must retry, isolate the failure and report it.
"""
from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

_SERVICE = re.compile(r"[a-z][a-z0-9-]*")
_ACTION = re.compile(r"[A-Z][A-Za-z0-9]*")
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9.]*")


@dataclass(frozen=True)
class Fault:
    operation: str  # "rds:CreateDBSnapshot" (query protocols) or "dynamodb:PutItem" (JSON protocols)
    parameter: str | None = None  # "DBInstanceIdentifier=churnguard-prod"
    code: str = "Throttling"
    message: str = "Rate exceeded"
    status: int = 400

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """``rds:CreateDBSnapshot[:Param=value][:Code]``, e.g. ``rds:CreateDBSnapshot:DBInstanceIdentifier=db1``.

        A spec that does not fit raises ValueError saying why: a typo must not become a rule that
        silently never matches.
        """
        parts = spec.split(":")
        service, action, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
        if not _SERVICE.fullmatch(service) or not _ACTION.fullmatch(action):
            raise ValueError("needs service:Action first, e.g. rds:CreateDBSnapshot")
        parameters = [r for r in rest if "=" in r]
        codes = [r for r in rest if "=" not in r]
        if len(parameters) > 1 or len(codes) > 1:
            raise ValueError("takes at most one Param=value and one error code after service:Action")
        if parameters and not all(parameters[0].partition("=")[::2]):
            raise ValueError(f"{parameters[0]!r} needs both a parameter name and a value (Param=value)")
        if codes and not _CODE.fullmatch(codes[0]):
            raise ValueError(f"{codes[0]!r} is not an AWS error code such as Throttling")
        return cls(operation=f"{service}:{action}", parameter=parameters[0] if parameters else None,
                   code=codes[0] if codes else "Throttling")


class FaultInjectionMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str | None]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not self._faults:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)  # let moto read the body again
        operation, params = _operation(environ, raw)
        for fault in list(self._faults):
            if fault.operation.lower() == operation.lower() and _matches(fault.parameter, params):
                self.injected.append((operation, fault.parameter))
                return _error(start_response, fault, json_protocol="HTTP_X_AMZ_TARGET" in environ)
        return self.app(environ, start_response)


def _operation(environ: dict[str, Any], raw: bytes) -> tuple[str, dict[str, str]]:
    service = _service(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # JSON protocols: X-Amz-Target "Service_20120810.Operation"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        return f"{service}:{target.rsplit('.', 1)[-1]}", {k: str(v) for k, v in body.items()
                                                           if isinstance(v, (str, int))}
    form = {k: v[0] for k, v in parse_qs(raw.decode(errors="replace")).items()}
    return f"{service}:{form.get('Action', '')}", form


def _service(environ: dict[str, Any]) -> str:
    # SigV4 credential scope: Credential=AKID/20260101/us-east-1/rds/aws4_request
    auth = environ.get("HTTP_AUTHORIZATION", "")
    parts = auth.split("Credential=", 1)[-1].split("/")
    return parts[3] if len(parts) > 3 else ""


def _matches(parameter: str | None, params: dict[str, str]) -> bool:
    if parameter is None:
        return True
    key, _, value = parameter.partition("=")
    return params.get(key) == value


def _error(start_response: Callable, fault: Fault, *, json_protocol: bool) -> list[bytes]:
    request_id = str(uuid.uuid4())
    if json_protocol:
        body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        content_type = "application/x-amz-json-1.0"
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
                f"<Message>{fault.message}</Message></Error><RequestId>{request_id}</RequestId>"
                f"</ErrorResponse>").encode()
        content_type = "text/xml"
    start_response(f"{fault.status} Injected", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                                ("X-Amzn-RequestId", request_id)])
    return [body]
