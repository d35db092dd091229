"""Step Functions calls whose ``error`` and ``cause`` moto 5.2 drops on the way to its interpreter.

moto's executing backend (a port of LocalStack's interpreter) records an error and a cause on
StopExecution and SendTaskFailure, but moto's HTTP layer passes neither on: a stopped execution
describes with no cause, and a rejected approval fails its task with no reason. Here the two
operations go straight to that backend with both fields. Its objects are reached in-process because
no public API takes them any other way; everything else passes through to moto untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from .awsapi import AwsRequest, StartResponse, WsgiApp, json_error, respond
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["StepFunctionsCauses"]

_TARGETS = {"AWSStepFunctions.StopExecution", "AWSStepFunctions.SendTaskFailure"}


class StepFunctionsCauses:
    def __init__(self, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self.account_id = account_id

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if environ.get("HTTP_X_AMZ_TARGET") not in _TARGETS:
                return app(environ, start_response)
            request = AwsRequest.read(environ)
            if request.operation == "StopExecution":
                return self._stop(request, start_response)
            return self._fail_task(request, start_response)
        return middleware

    def _backend(self, region: str) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        return stepfunctions_parser_backends[self.account_id][region]

    def _stop(self, request: AwsRequest, start_response: StartResponse) -> list[bytes]:
        arn = str(request.params.get("executionArn", ""))
        backend = self._backend(request.region)
        execution = next((e for machine in backend.state_machines for e in machine.executions
                          if e.execution_arn == arn), None)
        if execution is None:
            return json_error(start_response, "400 Bad Request", "ExecutionDoesNotExist",
                              f"Execution Does Not Exist: '{arn}'")
        stopped_at = dt.datetime.now(dt.timezone.utc)
        error, cause = request.params.get("error"), request.params.get("cause")
        execution.stop(stop_date=stopped_at, error=error, cause=cause)
        execution.error, execution.cause = error, cause  # what DescribeExecution returns
        return respond(start_response, "200 OK", {"stopDate": stopped_at.timestamp()},
                       content_type="application/x-amz-json-1.0")

    def _fail_task(self, request: AwsRequest, start_response: StartResponse) -> list[bytes]:
        from moto.stepfunctions.parser.api import InvalidToken, TaskDoesNotExist, TaskTimedOut

        try:
            self._backend(request.region).send_task_failure(
                request.params.get("taskToken"), error=request.params.get("error"),
                cause=request.params.get("cause"))
        except (InvalidToken, TaskDoesNotExist, TaskTimedOut) as exc:
            return json_error(start_response, "400 Bad Request", type(exc).__name__, str(exc) or type(exc).__name__)
        return respond(start_response, "200 OK", {}, content_type="application/x-amz-json-1.0")
