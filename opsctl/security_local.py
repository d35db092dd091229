"""Feeding the live security path: events onto EventBridge, then what the analyzer made of them.

Used by ``opsctl demo`` (and usable against a real account: it speaks only the public APIs). On the
embedded default, ``settle`` waits for the SQS event source mapping to drain the queue and for the
asynchronous invocations (remediation) the alerts started.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from churnguard_ops.core import contracts

#: PutEvents takes at most 10 entries per call.
PUT_EVENTS_BATCH = 10


def app_entry(detail: Mapping[str, Any], source: str = contracts.SECURITY_APP_EVENT_SOURCE,
              detail_type: str = contracts.SECURITY_APP_DETAIL_TYPE) -> dict[str, Any]:
    """A PutEvents entry carrying one application security event, as ChurnGuard publishes it."""
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}


def cloudtrail_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """A PutEvents entry shaped as CloudTrail's "AWS API Call via CloudTrail" (the record is the detail).

    AWS sends these itself with source ``aws.<service>``; PutEvents refuses sources starting with ``aws.``,
    so a replayed record keeps the detail-type (what the rule matches) under our own source."""
    detail_type = ("AWS Console Sign In via CloudTrail" if record.get("eventName") == "ConsoleLogin"
                   else "AWS API Call via CloudTrail")
    return {"Source": "churnguard.ops.replay", "DetailType": detail_type, "Detail": json.dumps(record)}


def put_events(events_client: Any, entries: Iterable[Mapping[str, Any]]) -> int:
    """Send every entry (10 per call); raises if any entry was refused. Returns how many were sent."""
    batch: list[Mapping[str, Any]] = []
    sent = 0
    for entry in entries:
        batch.append(entry)
        if len(batch) == PUT_EVENTS_BATCH:
            sent += _put(events_client, batch)
            batch = []
    if batch:
        sent += _put(events_client, batch)
    return sent


def _put(events_client: Any, batch: list[Mapping[str, Any]]) -> int:
    result = events_client.put_events(Entries=batch)
    if result.get("FailedEntryCount"):
        failed = [e for e in result["Entries"] if e.get("ErrorCode")]
        raise RuntimeError(f"PutEvents refused {len(failed)} entr(ies): {failed[0]}")
    return len(batch)


def settle(aws: Any, timeout_seconds: float = 90.0) -> None:
    """Embedded default: wait until the analyzer drained its queue and alert-driven invocations finished."""
    deadline = time.monotonic() + timeout_seconds
    aws.sqs_event_sources.drain(timeout_seconds)
    aws.lambda_dispatch.drain(max(1.0, deadline - time.monotonic()))


def stored_alerts(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every alert in the security table (a Scan: fine for a demo's handful, never for a live table)."""
    alerts: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        alerts += [json.loads(item["alert"]["S"]) for item in page["Items"] if item["pk"]["S"].startswith("alert#")]
    return alerts


def active_blocks(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """The remediation function's current blocks (live and dry-run)."""
    result = dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": "remediation#active"}})
    return [json.loads(item["doc"]["S"]) for item in result["Items"]]
