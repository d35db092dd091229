"""AWS adapters of the canary ports: Lambda aliases and invokes, CloudWatch metrics and alarms, the
DynamoDB release lock. Every call goes through ``core.errors`` translation; the few codes that mean
something to a release (a stale RevisionId, a failed lock condition) become canary errors first."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from churnguard_ops.canary.errors import AliasChanged, MetricsUnavailable, ReleaseInProgress
from churnguard_ops.canary.ports import AlarmState, AliasRouting, LockEntry, SmokeResponse
from churnguard_ops.core import aws
from churnguard_ops.core.errors import Conflict, NotFound, OpsError, raise_translated
from churnguard_ops.core.errors import guarded as _guarded


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def call_mapped(what: str, call: Callable[..., Any], special: dict[str, Callable[[str], Exception]],
          **kwargs: Any) -> Any:
    """``guarded`` with a few error codes mapped to canary errors before the generic translation."""
    try:
        return call(**kwargs)
    except Exception as exc:
        make = special.get(_code(exc))
        if make is not None:
            raise make(f"{what}: {_code(exc)}: {getattr(exc, 'response', {}).get('Error', {}).get('Message', '')}") \
                from exc
        raise_translated(exc, what)


#: Lambda's "not found" code ends in Exception, which core.errors.translate does not read as NotFound.
_LAMBDA_ERRORS: dict[str, Callable[[str], Exception]] = {"ResourceNotFoundException": NotFound}
_ALIAS_ERRORS: dict[str, Callable[[str], Exception]] = {
    **_LAMBDA_ERRORS,
    "PreconditionFailedException": AliasChanged,  # RevisionId no longer current
    "ResourceConflictException": Conflict,  # another update of the function is in progress
}


class LambdaAliasShifter:
    """Weighted alias routing: ``FunctionVersion`` = stable, ``AdditionalVersionWeights`` = {new: w/100}."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region

    @property
    def _lambda(self) -> Any:
        return aws.client("lambda", self.region)

    def routing(self, function_name: str, alias: str) -> AliasRouting:
        raw = call_mapped(f"read alias {function_name}:{alias}", self._lambda.get_alias, _LAMBDA_ERRORS,
                    FunctionName=function_name, Name=alias)
        return _routing(function_name, raw)

    def has_version(self, function_name: str, version: str) -> bool:
        try:
            call_mapped(f"read version {function_name}:{version}", self._lambda.get_function_configuration,
                  _LAMBDA_ERRORS, FunctionName=function_name, Qualifier=version)
        except NotFound:
            return False
        return True

    def shift(self, function_name: str, alias: str, stable_version: str, new_version: str, weight_pct: int,
              revision_id: str | None = None) -> AliasRouting:
        if not 1 <= weight_pct <= 99:
            raise ValueError(f"weight_pct {weight_pct}: a split is 1..99 %; 100 is a promotion")
        return self._update(f"shift {weight_pct} % of {function_name}:{alias} to version {new_version}",
                            function_name, alias, stable_version, {new_version: weight_pct / 100}, revision_id)

    def promote(self, function_name: str, alias: str, new_version: str,
                revision_id: str | None = None) -> AliasRouting:
        return self._update(f"promote {function_name}:{alias} to version {new_version}", function_name, alias,
                            new_version, {}, revision_id)

    def rollback(self, function_name: str, alias: str, stable_version: str) -> AliasRouting:
        # Unconditional: a rollback must win over whatever happened to the alias meanwhile.
        return self._update(f"roll {function_name}:{alias} back to version {stable_version}", function_name, alias,
                            stable_version, {}, None)

    def _update(self, what: str, function_name: str, alias: str, version: str, weights: dict[str, float],
                revision_id: str | None) -> AliasRouting:
        kwargs: dict[str, Any] = {"FunctionName": function_name, "Name": alias, "FunctionVersion": version,
                                  "RoutingConfig": {"AdditionalVersionWeights": weights}}
        if revision_id:
            kwargs["RevisionId"] = revision_id
        return _routing(function_name, call_mapped(what, self._lambda.update_alias, _ALIAS_ERRORS, **kwargs))


def _routing(function_name: str, raw: dict[str, Any]) -> AliasRouting:
    weights = (raw.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasRouting(function_name=function_name, alias=raw["Name"], version=raw["FunctionVersion"],
                        weights={v: round(float(w) * 100, 4) for v, w in weights.items()},
                        revision_id=raw.get("RevisionId", ""))


class CloudWatchMetricsSource:
    """Exactly one ``GetMetricData`` request per fetch; its NextToken pages only when CloudWatch sends one."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def fetch(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, list[float]]:
        values: dict[str, list[float]] = {q["Id"]: [] for q in queries}
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                                  "ScanBy": "TimestampAscending"}
        what = f"read {len(queries)} metrics {start.isoformat()}..{end.isoformat()}"
        while True:
            try:
                page = _guarded(what, aws.client("cloudwatch", self.region).get_metric_data, **kwargs)
            except OpsError as exc:
                raise MetricsUnavailable(str(exc)) from exc
            for result in page.get("MetricDataResults", []):
                if result.get("StatusCode") in {"InternalError", "Forbidden"}:
                    raise MetricsUnavailable(f"{what}: {result['Id']}: {result['StatusCode']} "
                                             f"{result.get('Messages', '')}".rstrip())
                values.setdefault(result["Id"], []).extend(float(v) for v in result.get("Values", []))
            token = page.get("NextToken")
            if not token:
                return values
            kwargs["NextToken"] = token


class LambdaSmokeInvoker:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def invoke(self, function_name: str, version: str, payload: dict[str, Any]) -> SmokeResponse:
        raw = call_mapped(f"invoke {function_name}:{version}", aws.client("lambda", self.region).invoke, _LAMBDA_ERRORS,
                    FunctionName=function_name, Qualifier=version, InvocationType="RequestResponse",
                    Payload=json.dumps(payload).encode())
        body = raw["Payload"].read().decode("utf-8", "replace") if raw.get("Payload") is not None else ""
        error = raw.get("FunctionError")
        return SmokeResponse(status="error" if error else "success", body=body, function_error=error)


class CloudWatchAlarmStates:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def states(self, names: list[str]) -> dict[str, AlarmState]:
        found: dict[str, AlarmState] = {}
        cloudwatch = aws.client("cloudwatch", self.region)
        for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
            chunk = names[start:start + 100]
            try:
                pages = cloudwatch.get_paginator("describe_alarms").paginate(
                    AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
                for page in pages:
                    for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                        found[alarm["AlarmName"]] = AlarmState(name=alarm["AlarmName"], value=alarm["StateValue"],
                                                               updated_at=alarm.get("StateUpdatedTimestamp"))
            except Exception as exc:
                raise_translated(exc, f"read alarms {chunk}")
        return found


_LOCK_HELD: dict[str, Callable[[str], Exception]] = {"ConditionalCheckFailedException": ReleaseInProgress}


class DynamoReleaseLock:
    """One item per alias being released, keyed ``lock_key``; a conditional put takes it.

    The table's TTL attribute is ``expires_epoch`` (DynamoDB deletes long-expired items; an expired item
    still present is taken over by the next release anyway).
    """

    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region

    @property
    def _dynamodb(self) -> Any:
        return aws.client("dynamodb", self.region)

    def acquire(self, entry: LockEntry, now: datetime) -> LockEntry:
        try:
            call_mapped(f"lock {entry.key}", self._dynamodb.put_item, _LOCK_HELD, TableName=self.table,
                  Item=_item(entry),
                  ConditionExpression="attribute_not_exists(lock_key) OR release_id = :rid OR expires_epoch < :now",
                  ExpressionAttributeValues={":rid": {"S": entry.release_id},
                                             ":now": {"N": str(int(now.timestamp()))}})
        except ReleaseInProgress:
            holder = self.holder(entry.key)
            if holder is None:  # released between our put and our read: one more try
                return self.acquire(entry, now)
            raise ReleaseInProgress(
                f"{entry.key} is being released by {holder.release_id} (version {holder.stable_version} -> "
                f"{holder.new_version}, started {holder.started_at.isoformat()}"
                + (f", execution {holder.execution_id}" if holder.execution_id else "") + ")") from None
        return entry

    def holder(self, key: str) -> LockEntry | None:
        raw = _guarded(f"read lock {key}", self._dynamodb.get_item, TableName=self.table,
                       Key={"lock_key": {"S": key}}, ConsistentRead=True)
        return _entry(raw["Item"]) if raw.get("Item") else None

    def mark_aborting(self, key: str, release_id: str) -> bool:
        try:
            call_mapped(f"mark {key} aborting", self._dynamodb.update_item, _LOCK_HELD, TableName=self.table,
                  Key={"lock_key": {"S": key}}, UpdateExpression="SET #s = :aborting",
                  ConditionExpression="release_id = :rid", ExpressionAttributeNames={"#s": "status"},
                  ExpressionAttributeValues={":aborting": {"S": "aborting"}, ":rid": {"S": release_id}})
        except ReleaseInProgress:
            return False
        return True

    def release(self, key: str, release_id: str) -> None:
        try:
            call_mapped(f"unlock {key}", self._dynamodb.delete_item, _LOCK_HELD, TableName=self.table,
                  Key={"lock_key": {"S": key}}, ConditionExpression="release_id = :rid",
                  ExpressionAttributeValues={":rid": {"S": release_id}})
        except ReleaseInProgress:
            return  # someone else's (or nobody's) lock now: nothing of ours to give back

    def running(self) -> list[LockEntry]:
        try:
            pages = self._dynamodb.get_paginator("scan").paginate(TableName=self.table, ConsistentRead=True)
            return [_entry(item) for page in pages for item in page.get("Items", [])]
        except Exception as exc:
            raise_translated(exc, f"scan locks in {self.table}")


def _item(entry: LockEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "lock_key": {"S": entry.key}, "release_id": {"S": entry.release_id},
        "new_version": {"S": entry.new_version}, "stable_version": {"S": entry.stable_version},
        "started_at": {"S": entry.started_at.isoformat()}, "expires_at": {"S": entry.expires_at.isoformat()},
        "expires_epoch": {"N": str(int(entry.expires_at.timestamp()))}, "status": {"S": entry.status},
        "alarms": {"L": [{"S": a} for a in entry.alarms]}}
    if entry.execution_id:
        item["execution_id"] = {"S": entry.execution_id}
    return item


def _entry(item: dict[str, Any]) -> LockEntry:
    return LockEntry(key=item["lock_key"]["S"], release_id=item["release_id"]["S"],
                     new_version=item["new_version"]["S"], stable_version=item["stable_version"]["S"],
                     started_at=datetime.fromisoformat(item["started_at"]["S"]),
                     expires_at=datetime.fromisoformat(item["expires_at"]["S"]),
                     alarms=tuple(a["S"] for a in item.get("alarms", {}).get("L", [])),
                     status="aborting" if item.get("status", {}).get("S") == "aborting" else "running",
                     execution_id=item.get("execution_id", {}).get("S"))


class StepFunctionsExecutions:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def stop(self, execution_id: str, error: str, cause: str) -> None:
        try:
            aws.client("stepfunctions", self.region).stop_execution(
                executionArn=execution_id, error=error[:256], cause=cause[:32768])
        except Exception as exc:
            if _code(exc) in ("ExecutionDoesNotExist", "ExecutionAlreadyStopped"):
                return  # finished meanwhile: nothing left to stop
            raise_translated(exc, f"stop {execution_id}")
