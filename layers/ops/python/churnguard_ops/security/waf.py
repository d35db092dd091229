"""AWS adapters of the remediation ports: the WAF IP set, and our block records in DynamoDB.

:class:`WafIpSet` (:class:`~churnguard_ops.security.remediation.IpBlocklist`): WAFv2 ``GetIPSet`` then
``UpdateIPSet`` with the ``LockToken`` just read; when someone else updated the set in between WAF answers
``WAFOptimisticLockException`` and we read again and re-apply our one change (a few attempts, then
``Conflict``). ``UpdateIPSet`` replaces the whole list, so each change is computed from the list just read:
an address someone else added or removed meanwhile is kept as they left it.

:class:`DynamoBlockRecords` (:class:`~churnguard_ops.security.remediation.BlockRecords`) in a table keyed
``pk`` (S) + ``sk`` (S), shared with the other security items (hence the ``remediation#`` prefixes):

=====================================  ===============================  =============================================
pk                                     sk                               what
=====================================  ===============================  =============================================
``remediation#active``                 ``<ip>``                         a current block (one partition: the sweep
                                                                        reads it with one Query);
                                                                        ``block_expires_at`` (S, ISO) is its expiry
``remediation#alert#<alert_id>``       ``decision``                     the decision on an alert (written only if
                                                                        absent: idempotency on ``alert_id``)
``remediation#action#<YYYY-MM-DD>``    ``<at>#<ip>#<action>#<ref>``     the audit, one partition per UTC day; ``at``
                                                                        is ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sorts
                                                                        as time); ``ref`` the alert id or a nonce
=====================================  ===============================  =============================================

Every item holds the model as JSON in ``doc`` (S). The table's TTL attribute (``ttl_attribute``, default
``expires_at`` as on the security stack's table, Unix seconds) is never the block's expiry (that is
``block_expires_at``, text, which TTL ignores): on a current block it is the expiry plus
``keep_after_expiry_days`` (30), so DynamoDB's TTL (which deletes up to days late, and never early enough
to matter) cannot remove a record before the sweeper has unblocked its address; on decisions and audit
items it is ``at`` plus ``audit_retention_days``.
"""
from __future__ import annotations

import ipaddress
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from churnguard_ops.core import aws
from churnguard_ops.core.errors import Conflict, NotFound, OpsError, Throttled, Unavailable, raise_translated
from churnguard_ops.security.remediation import ActiveBlock, BlockAction

# -- WAF ----------------------------------------------------------------------------------------------

#: WAFv2 error codes that core.errors.translate does not read by itself.
_WAF_ERRORS: dict[str, type[OpsError]] = {
    "WAFNonexistentItemException": NotFound,
    "WAFOptimisticLockException": Conflict,
    "WAFLimitsExceededException": Conflict,  # 10,000 addresses per IP set
    "WAFUnavailableEntityException": Unavailable,
    "WAFInternalErrorException": Unavailable,
}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


#: DynamoDB codes core.errors.translate does not classify: throttling and contention are worth a retry.
_DYNAMO_ERRORS: dict[str, type[OpsError]] = {
    "ProvisionedThroughputExceededException": Throttled,
    "RequestLimitExceeded": Throttled,
    "TransactionConflictException": Throttled,
    "TransactionInProgressException": Throttled,
    "InternalServerError": Unavailable,
}
_TRANSIENT_CANCELLATIONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"}


def _raise(exc: Exception, what: str, special: dict[str, type[OpsError]]) -> NoReturn:
    """Raise ``exc`` as the domain error ``special`` names for its code, else as core.errors translates it."""
    error = special.get(_code(exc))
    if error is not None:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        raise error(f"{what}: {_code(exc)}: {message}".rstrip(": ")) from exc
    raise_translated(exc, what)


def _call(what: str, special: dict[str, type[OpsError]], call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except Exception as exc:
        _raise(exc, what, special)


def _waf_call(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    return _call(what, _WAF_ERRORS, call, **kwargs)


def _dynamo_call(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    return _call(what, _DYNAMO_ERRORS, call, **kwargs)


def _network(cidr: str) -> Any:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return cidr  # not ours to judge: compared as text, kept as it is


class WafIpSet:
    """One WAFv2 IP set. ``scope`` ``CLOUDFRONT`` sets live in us-east-1 whatever ``region`` says."""

    def __init__(self, name: str, id: str, scope: str = "REGIONAL", region: str | None = None, *,
                 max_attempts: int = 5, sleep: Callable[[float], None] = time.sleep) -> None:
        if scope not in ("REGIONAL", "CLOUDFRONT"):
            raise ValueError(f"scope {scope!r}: REGIONAL or CLOUDFRONT")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.name = name
        self.ip_set_id = id
        self.scope = scope
        self.region = "us-east-1" if scope == "CLOUDFRONT" else region
        self.max_attempts = max_attempts
        self.sleep = sleep

    @property
    def _waf(self) -> Any:
        return aws.client("wafv2", self.region)

    def _read(self) -> dict[str, Any]:
        raw = _waf_call(f"read IP set {self.name}", self._waf.get_ip_set, Name=self.name, Scope=self.scope,
                        Id=self.ip_set_id)
        return {"addresses": list(raw["IPSet"].get("Addresses") or []), "lock_token": raw["LockToken"],
                "description": raw["IPSet"].get("Description")}

    def addresses(self) -> set[str]:
        return set(self._read()["addresses"])

    def add(self, cidr: str) -> bool:
        target = _network(cidr)

        def change(addresses: list[str]) -> list[str] | None:
            if any(_network(a) == target for a in addresses):
                return None
            return [*addresses, str(target)]

        return self._update(f"add {cidr} to IP set {self.name}", change)

    def remove(self, cidr: str) -> bool:
        target = _network(cidr)

        def change(addresses: list[str]) -> list[str] | None:
            kept = [a for a in addresses if _network(a) != target]
            return kept if len(kept) != len(addresses) else None

        return self._update(f"remove {cidr} from IP set {self.name}", change)

    def _update(self, what: str, change: Callable[[list[str]], list[str] | None]) -> bool:
        """Read, apply ``change`` (None: nothing to do), write with the lock token; again on a lost race."""
        for attempt in range(1, self.max_attempts + 1):
            current = self._read()
            addresses = change(current["addresses"])
            if addresses is None:
                return False
            kwargs: dict[str, Any] = {"Name": self.name, "Scope": self.scope, "Id": self.ip_set_id,
                                      "Addresses": addresses, "LockToken": current["lock_token"]}
            if current["description"]:  # UpdateIPSet replaces every setting: keep the description
                kwargs["Description"] = current["description"]
            try:
                _waf_call(what, self._waf.update_ip_set, **kwargs)
            except Conflict as exc:
                if not isinstance(exc.__cause__, Exception) or _code(exc.__cause__) != "WAFOptimisticLockException":
                    raise
                if attempt == self.max_attempts:
                    raise Conflict(f"{what}: the IP set kept changing under us ({attempt} attempts)") from exc
                self.sleep(0.05 * 2 ** attempt * random.uniform(0.5, 1.5))
                continue
            return True
        raise AssertionError("unreachable")  # pragma: no cover


# -- DynamoDB -----------------------------------------------------------------------------------------

ACTIVE_PK = "remediation#active"
DECISION_PK_PREFIX = "remediation#alert#"
DECISION_SK = "decision"
AUDIT_PK_PREFIX = "remediation#action#"


def _stamp(at: datetime) -> str:
    """UTC with microseconds, fixed width: sorts as time."""
    if at.tzinfo is None:
        raise ValueError(f"{at!r}: a record's time must be timezone-aware")
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _epoch(at: datetime) -> dict[str, str]:
    return {"N": str(int(at.timestamp()))}


class DynamoBlockRecords:
    """Current blocks, decisions and the audit in one DynamoDB table (see the module docstring)."""

    def __init__(self, table: str, region: str | None = None, *, ttl_attribute: str = "expires_at",
                 audit_retention_days: int = 400, keep_after_expiry_days: int = 30) -> None:
        if audit_retention_days < 1 or keep_after_expiry_days < 1:
            raise ValueError("audit_retention_days and keep_after_expiry_days must be >= 1")
        self.table = table
        self.region = region
        self.ttl_attribute = ttl_attribute
        self.audit_retention = timedelta(days=audit_retention_days)
        self.keep_after_expiry = timedelta(days=keep_after_expiry_days)

    @property
    def _dynamodb(self) -> Any:
        return aws.client("dynamodb", self.region)

    # -- current blocks ---------------------------------------------------------------------------
    def active(self, ip: str) -> ActiveBlock | None:
        raw = _dynamo_call(f"read block of {ip}", self._dynamodb.get_item, TableName=self.table,
                      Key={"pk": {"S": ACTIVE_PK}, "sk": {"S": ip}}, ConsistentRead=True)
        item = raw.get("Item")
        return ActiveBlock.model_validate_json(item["doc"]["S"]) if item else None

    def actives(self) -> list[ActiveBlock]:
        items = self._query(f"list blocks in {self.table}", KeyConditionExpression="pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": ACTIVE_PK}})
        return [ActiveBlock.model_validate_json(item["doc"]["S"]) for item in items]

    def put_active(self, block: ActiveBlock) -> None:
        item = {"pk": {"S": ACTIVE_PK}, "sk": {"S": block.ip}, "doc": {"S": block.model_dump_json()},
                "block_expires_at": {"S": _stamp(block.expires_at)},
                self.ttl_attribute: _epoch(block.expires_at + self.keep_after_expiry)}
        _dynamo_call(f"record block of {block.ip}", self._dynamodb.put_item, TableName=self.table, Item=item)

    def delete_active(self, ip: str, expires_at: datetime) -> bool:
        try:
            self._dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": ACTIVE_PK}, "sk": {"S": ip}},
                                       ConditionExpression="block_expires_at = :e",
                                       ExpressionAttributeValues={":e": {"S": _stamp(expires_at)}})
        except Exception as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            _raise(exc, f"delete block of {ip}", _DYNAMO_ERRORS)
        return True

    # -- decisions and the audit ------------------------------------------------------------------
    def decision(self, alert_id: str) -> BlockAction | None:
        raw = _dynamo_call(f"read decision on alert {alert_id}", self._dynamodb.get_item, TableName=self.table,
                      Key={"pk": {"S": DECISION_PK_PREFIX + alert_id}, "sk": {"S": DECISION_SK}},
                      ConsistentRead=True)
        item = raw.get("Item")
        return BlockAction.model_validate_json(item["doc"]["S"]) if item else None

    def record_decision(self, action: BlockAction) -> bool:
        if not action.alert_id:
            raise ValueError("a decision names its alert (alert_id)")
        decision = {"pk": {"S": DECISION_PK_PREFIX + action.alert_id}, "sk": {"S": DECISION_SK},
                    "doc": {"S": action.model_dump_json()},
                    self.ttl_attribute: _epoch(action.at + self.audit_retention)}
        try:
            self._dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": decision,
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table, "Item": self._audit_item(action, action.alert_id)}},
            ])
        except Exception as exc:
            what = f"record decision on alert {action.alert_id}"
            reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if _code(exc) == "TransactionCanceledException":
                if codes and codes[0] == "ConditionalCheckFailed":
                    return False
                if _TRANSIENT_CANCELLATIONS.intersection(codes):
                    raise Throttled(f"{what}: transaction cancelled: {codes}") from exc
            _raise(exc, what, _DYNAMO_ERRORS)
        return True

    def record(self, action: BlockAction) -> None:
        _dynamo_call(f"audit {action.action} of {action.ip}", self._dynamodb.put_item, TableName=self.table,
                Item=self._audit_item(action, uuid.uuid4().hex[:12]))

    def actions(self, start: datetime, end: datetime) -> list[BlockAction]:
        if end <= start:
            return []
        found: list[BlockAction] = []
        last_day = (end - timedelta(microseconds=1)).astimezone(timezone.utc).date()
        day = start.astimezone(timezone.utc).date()
        while day <= last_day:
            items = self._query(f"read remediation audit of {day}",
                                KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                                ExpressionAttributeValues={":pk": {"S": f"{AUDIT_PK_PREFIX}{day.isoformat()}"},
                                                           ":a": {"S": _stamp(start)}, ":b": {"S": _stamp(end)}})
            found.extend(BlockAction.model_validate_json(item["doc"]["S"]) for item in items)
            day += timedelta(days=1)
        return [a for a in found if start <= a.at < end]

    def _audit_item(self, action: BlockAction, ref: str) -> dict[str, Any]:
        stamp = _stamp(action.at)
        return {"pk": {"S": f"{AUDIT_PK_PREFIX}{stamp[:10]}"},
                "sk": {"S": f"{stamp}#{action.ip}#{action.action}#{ref}"},
                "action": {"S": action.action}, "ip": {"S": action.ip}, "doc": {"S": action.model_dump_json()},
                self.ttl_attribute: _epoch(action.at + self.audit_retention)}

    def _query(self, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            pages = self._dynamodb.get_paginator("query").paginate(TableName=self.table, ConsistentRead=True,
                                                                   **kwargs)
            return [item for page in pages for item in page.get("Items", [])]
        except Exception as exc:
            _raise(exc, f"{what} ({self.table})", _DYNAMO_ERRORS)

