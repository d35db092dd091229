"""In-memory fakes of the alarm router's ports."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from churnguard_ops.core.errors import NotFound, OpsError


class FakeAlarmTags:
    def __init__(self, tags: dict[str, dict[str, str]] | None = None) -> None:
        self.by_arn = tags or {}

    def tags(self, alarm_arn: str) -> dict[str, str]:
        return dict(self.by_arn.get(alarm_arn, {}))


class FakeInvoker:
    """Answers per function name (a dict, or a callable of the payload); ``failures[name]`` errors raise first."""

    def __init__(self, answers: dict[str, Any] | None = None, missing: set[str] | None = None) -> None:
        self.answers = answers or {}
        self.missing = missing or set()
        self.failures: dict[str, list[Exception]] = {}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def _call(self, kind: str, function_name: str, payload: dict[str, Any]) -> Any:
        self.calls.append((kind, function_name, payload))
        if function_name in self.missing:
            raise NotFound(f"invoke {function_name}: ResourceNotFoundException")
        queued = self.failures.get(function_name)
        if queued:
            raise queued.pop(0)
        answer = self.answers.get(function_name, {})
        return answer(payload) if callable(answer) else answer

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("sync", function_name, payload))

    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None:
        self._call("async", function_name, payload)

    def called(self, function_name: str) -> list[dict[str, Any]]:
        return [payload for _, name, payload in self.calls if name == function_name]


class FakeExecutions:
    def __init__(self) -> None:
        self.started: dict[str, tuple[str, dict[str, Any]]] = {}

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        self.started.setdefault(name, (state_machine_arn, payload))
        return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


class FakeTopics:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.failures: list[Exception] = []

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.messages.append((topic_arn, subject, message))


class MemoryLedger:
    """Powertools' semantics: a stored result is returned again; a raising run leaves no record."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}

    def once(self, key: str, run: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        if key in self.records:
            return self.records[key], True
        result = run()
        self.records[key] = result
        return result, False


def throttled(what: str = "invoke") -> OpsError:
    from churnguard_ops.core.errors import Throttled

    return Throttled(f"{what}: ThrottlingException: Rate exceeded")


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.alarms import ports

    _tags: ports.AlarmTags = FakeAlarmTags()
    _lambdas: ports.FunctionInvoker = FakeInvoker()
    _executions: ports.ExecutionStarter = FakeExecutions()
    _topics: ports.TopicPublisher = FakeTopics()
    _ledger: ports.ActionLedger = MemoryLedger()
