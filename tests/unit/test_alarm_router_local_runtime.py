"""The embedded Lambda runtime lets a function call another one synchronously (the router -> incidents)."""
from __future__ import annotations

import os
import threading
from typing import Any

from opsctl.local.lambda_runtime import LAMBDA_EXECUTION_ENV, LambdaRegistry


def test_a_nested_synchronous_invoke_runs_inside_the_calling_invocation_instead_of_deadlocking():
    registry = LambdaRegistry(lock_timeout_seconds=1)

    def incidents(event: Any, context: Any) -> dict[str, Any]:
        return {"outcome": "opened", "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}

    def router(event: Any, context: Any) -> dict[str, Any]:
        # As through the embedded AWS: the call arrives on the server's thread while this one waits.
        answers: list[Any] = []
        server = threading.Thread(target=lambda: answers.append(
            registry.invoke("incidents", {"command": "alarm_state_change"}, nested=True)))
        server.start()
        server.join()
        (answer,) = answers
        return {"answer": answer.payload, "error": answer.function_error,
                "exec_env": os.environ["AWS_EXECUTION_ENV"], "me": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}

    registry.register("incidents", incidents)
    registry.register("router", router)
    result = registry.invoke("router", {})
    assert result.function_error is None, result.payload
    assert result.payload == {"answer": {"outcome": "opened", "function": "incidents"}, "error": None,
                              "exec_env": LAMBDA_EXECUTION_ENV, "me": "router"}


def test_a_call_marked_nested_without_a_running_invocation_takes_the_lock_as_usual():
    registry = LambdaRegistry(lock_timeout_seconds=1)
    registry.register("incidents", lambda event, context: {"ok": True})
    assert registry.invoke("incidents", {}, nested=True).payload == {"ok": True}
    assert registry.invoke("incidents", {}).payload == {"ok": True}  # the lock was released
