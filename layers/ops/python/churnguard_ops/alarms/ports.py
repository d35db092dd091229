"""What the router needs from AWS: alarm tags, Lambda invocations, executions, topics, an idempotency ledger."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class AlarmTags(Protocol):
    def tags(self, alarm_arn: str) -> dict[str, str]: ...


class FunctionInvoker(Protocol):
    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Synchronous (RequestResponse): the function's JSON answer. NotFound when it does not exist;
        OpsError when the function raised (its error message)."""
        ...

    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None:
        """Asynchronous (Event): queued for the function, with its own retries and DLQ."""
        ...


class ExecutionStarter(Protocol):
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        """The execution's ARN; the same name and input started twice is the same execution."""
        ...


class TopicPublisher(Protocol):
    def publish(self, topic_arn: str, subject: str, message: str) -> None: ...


class ActionLedger(Protocol):
    def once(self, key: str, run: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """``run()``'s result, run at most once per ``key`` while the record lives; True when the result is
        the stored one of an earlier run. An exception from ``run`` is raised and leaves no record."""
        ...
