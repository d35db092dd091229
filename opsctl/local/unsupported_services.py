"""Services moto 5.2 does not have, refused the way AWS refuses an unknown operation.

Without this, a request to the Pricing API (or Compute Optimizer) reaches moto's dispatcher, which answers
HTTP 500 with a traceback: botocore retries a 500 several times and then reports an internal error. A client
that falls back when a service does not answer (the cost report's price book) should learn at once, with a
clear, non-retryable error. Services are recognised by the SigV4 credential scope of the request.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .rds_dataplane import credential_scope

#: SigV4 service name -> what to say. Each is a JSON-protocol service (``x-amz-json-1.1``).
MISSING = {
    "pricing": "the embedded AWS has no Pricing API (moto 5.2): use the bundled price table",
    "compute-optimizer": "the embedded AWS has no Compute Optimizer (moto 5.2)",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class UnsupportedServices:
    def __init__(self) -> None:
        self.refused: dict[str, int] = {}

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            service = credential_scope(environ).service
            if service not in MISSING:
                return app(environ, start_response)
            self.refused[service] = self.refused.get(service, 0) + 1
            body = json.dumps({"__type": "UnknownOperationException", "message": MISSING[service]}).encode()
            start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1"),
                                               ("Content-Length", str(len(body))),
                                               ("X-Amzn-RequestId", str(uuid.uuid4()))])
            return [body]

        return middleware
