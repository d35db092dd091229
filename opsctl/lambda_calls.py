"""Invoke our functions through the Lambda API: the same call against AWS or the embedded AWS."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.config import Config

from opsctl.errors import UsageError


@dataclass
class Invocation:
    function_name: str
    payload: Any
    error: str | None  # Lambda's FunctionError ("Unhandled") or None

    @property
    def ok(self) -> bool:
        return self.error is None


def invoke(function_name: str, event: dict[str, Any], region: str | None = None) -> Invocation:
    client = boto3.client("lambda", region_name=region,
                          config=Config(read_timeout=900, retries={"mode": "standard", "max_attempts": 1}))
    try:
        response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                 Payload=json.dumps(event).encode())
    except client.exceptions.ResourceNotFoundException:
        raise UsageError(f"no function named {function_name!r} is deployed (check the name and --prefix)") from None
    raw = response["Payload"].read()
    return Invocation(function_name, json.loads(raw) if raw else None, response.get("FunctionError"))


def backup_tick(policy: str, *, when: datetime | None = None, region: str = "us-east-1",
                account: str = "123456789012", instances: list[str] | None = None, on_demand: bool = False,
                retention_days: int | None = None) -> dict[str, Any]:
    """The event a policy's EventBridge schedule delivers (see the rule's input transformer), or, with
    ``on_demand``, an operator's request for a recovery point now."""
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    detail: dict[str, Any] = {"policy": policy}
    if instances:
        detail["db_instance_ids"] = instances
    if on_demand:
        detail["on_demand"] = True
        if retention_days:
            detail["retention_days"] = retention_days
    kind, source = ("Manual Backup", "churnguard.opsctl") if on_demand else ("Scheduled Event", "aws.events")
    return {
        "version": "0", "id": f"opsctl-{policy}-{when:%Y%m%dT%H%M%S}", "detail-type": kind,
        "source": source, "account": account, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [], "detail": detail,
    }
