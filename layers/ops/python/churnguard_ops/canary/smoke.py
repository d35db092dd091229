"""Smoke expectations: what a response to a smoke event must look like."""
from __future__ import annotations

import json
from typing import Any

from churnguard_ops.canary.model import SmokeExpectation
from churnguard_ops.canary.ports import SmokeResponse


def smoke_problems(expect: SmokeExpectation, response: SmokeResponse) -> list[str]:
    problems = []
    if response.status != expect.status:
        problems.append(f"status {response.status} (expected {expect.status})"
                        + (f", FunctionError {response.function_error}" if response.function_error else ""))
    if expect.body_contains is not None and expect.body_contains not in response.body:
        problems.append(f"body does not contain {expect.body_contains!r}")
    if expect.field_equals:
        try:
            body = json.loads(response.body)
        except ValueError:
            return problems + [f"body is not JSON, cannot check {sorted(expect.field_equals)}"]
        for path, wanted in expect.field_equals.items():
            found, value = lookup(body, path)
            if not found:
                problems.append(f"{path} missing")
            elif value != wanted:
                problems.append(f"{path} = {value!r} (expected {wanted!r})")
    return problems


def lookup(document: Any, path: str) -> tuple[bool, Any]:
    """A dotted path into JSON; a string along the way that holds JSON (API Gateway's body) is opened."""
    value = document
    for part in path.split("."):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return False, None
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value
