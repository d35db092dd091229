"""DynamoDB adapters of the security ports: detector state, the alert store and the event tally.

- :class:`DynamoDetectorState` (table key ``pk``): one item per key (``w#<key>`` windows, ``c#<key>`` dedup
  claims). Every call is a consistent read, the same pure transition the memory state applies
  (:func:`~churnguard_ops.security.state.apply_add` / ``apply_claim``) and a PutItem conditional on the
  ``version`` read. A lost race applies the transition again to the winner's item (returned by the failed
  write; after a few losses, read afresh after a jittered pause), so concurrent Lambdas on one key lose
  nothing; a call that loses ``MAX_ATTEMPTS`` times raises ``Conflict`` and its record is redelivered.
- :class:`DynamoAlertStore` and :class:`DynamoEventTally` share one table (keys ``pk`` + ``sk``):
  ``alert#<org>`` / ``<time>#<alert_id>`` alerts, ``seen#<event_id>`` / ``-`` idempotency markers,
  ``tally#<org>`` / ``<day>`` counters and ``orgs`` / ``<day>`` the organizations seen that day.

Every item carries the TTL attribute ``expires_at`` (epoch seconds). DynamoDB numbers are written from
``repr(float)`` and event entries as JSON text, so timestamps round-trip to the identical float.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from churnguard_ops.core import aws
from churnguard_ops.core.errors import Conflict, NotFound, OpsError, Throttled, Unavailable, raise_translated
from churnguard_ops.security.model import Alert, Event
from churnguard_ops.security.ports import Entry, WindowView
from churnguard_ops.security.state import Slot, apply_add, apply_claim

#: Conditional writes one call may lose to concurrent writers on the same key before it gives up.
MAX_ATTEMPTS = 20
#: Losses retried at once on the item the failed write returned, before pausing between attempts.
IMMEDIATE_RETRIES = 2
#: How long a ``seen#<event_id>`` marker outlives its event: redeliveries come within days, not weeks.
SEEN_DAYS = 8
#: Counter items per organization and day (see DynamoEventTally).
TALLY_SHARDS = 8

_CONDITION_FAILED = "ConditionalCheckFailedException"
# DynamoDB codes core.errors.translate does not classify: throttling and contention are worth a retry.
_DYNAMO_ERRORS: dict[str, Callable[[str], OpsError]] = {
    "ProvisionedThroughputExceededException": Throttled,
    "TransactionConflictException": Throttled,
    "TransactionInProgressException": Throttled,
    "InternalServerError": Unavailable,
    "ResourceNotFoundException": NotFound,
}
_THROTTLE_REASONS = {"ThrottlingError", "ProvisionedThroughputExceeded"}


class _ConditionFailed(Exception):
    """A ConditionExpression did not hold; ``item`` is the stored item when DynamoDB returned it."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__(_CONDITION_FAILED)
        self.item = item


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return response.get("Error", {}).get("Code", "") if isinstance(response, dict) else ""


def _raise(exc: Exception, what: str) -> NoReturn:
    """``core.errors.raise_translated``, keeping a failed condition apart (the adapters act on it) and
    classifying the DynamoDB codes the shared translation does not know."""
    code = _code(exc)
    if code == _CONDITION_FAILED:
        raise _ConditionFailed(getattr(exc, "response", {}).get("Item")) from exc
    make = _DYNAMO_ERRORS.get(code)
    if make is not None:
        raise make(f"{what}: {code}: {getattr(exc, 'response', {}).get('Error', {}).get('Message', '')}") from exc
    raise_translated(exc, what)


def _call(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except Exception as exc:
        _raise(exc, what)


def _num(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}  # shortest repr: float(text) gives back the identical float


def _backoff(attempt: int) -> None:
    """Full jitter, exponential up to 100 ms: racing writers spread out instead of colliding again."""
    time.sleep(random.uniform(0, min(0.1, 0.005 * 2 ** attempt)))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _epoch(moment: datetime) -> int:
    return math.ceil(_utc(moment).timestamp())


class DynamoDetectorState:
    """:class:`~churnguard_ops.security.ports.DetectorState` on a table keyed by ``pk`` (S) only.

    Item: ``pk``, ``version`` (N), ``entries`` (S: JSON ``[[ts, event_id, value], ...]`` sorted),
    ``max_ts`` (N), ``floor`` (N, absent while nothing was capped), ``expires_at`` (N, TTL:
    ``ceil(max_ts + retain + lateness)``, the dedup horizon for claims).
    """

    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region

    def add_to_window(self, key: str, entry: Entry, *, retain_seconds: float, lateness_seconds: float,
                      keep: int) -> WindowView:
        def apply(slot: Slot) -> tuple[WindowView, bool]:
            view = apply_add(slot, entry, retain_seconds, lateness_seconds, keep)
            return view, view.status == "added"

        view: WindowView = self._update("w#" + key, apply)
        return view

    def claim_alert(self, key: str, event_id: str, ts: float, *, dedup_seconds: float,
                    lateness_seconds: float) -> bool:
        def apply(slot: Slot) -> tuple[bool, bool]:
            held = event_id in slot.ids
            granted = apply_claim(slot, event_id, ts, dedup_seconds, lateness_seconds)
            return granted, granted and not held  # a refusal or a claim already held changes nothing

        granted: bool = self._update("c#" + key, apply)
        return granted

    def _update(self, pk: str, apply: Callable[[Slot], tuple[Any, bool]]) -> Any:
        dynamodb = aws.client("dynamodb", self.region)
        what = f"update {pk} in {self.table}"
        key = {"pk": {"S": pk}}
        item = _call(what, dynamodb.get_item, TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        for attempt in range(MAX_ATTEMPTS):
            slot, version = _slot(item)
            result, changed = apply(slot)
            if not changed:
                return result
            condition: dict[str, Any] = (
                {"ConditionExpression": "version = :read", "ExpressionAttributeValues": {":read": {"N": str(version)}}}
                if item else {"ConditionExpression": "attribute_not_exists(pk)"})
            try:
                _call(what, dynamodb.put_item, TableName=self.table, Item=_item(pk, slot, version + 1),
                      ReturnValuesOnConditionCheckFailure="ALL_OLD", **condition)
                return result
            except _ConditionFailed as failed:
                # Another writer landed between our read and our write. Its item comes back with the failure:
                # apply again to it at once; after a few losses in a row, pause (jittered) and read afresh.
                item = failed.item
                if attempt >= IMMEDIATE_RETRIES or item is None:
                    _backoff(attempt)
                    item = _call(what, dynamodb.get_item, TableName=self.table, Key=key,
                                 ConsistentRead=True).get("Item")
        raise Conflict(f"{what}: lost {MAX_ATTEMPTS} conditional writes in a row to concurrent writers")


def _slot(item: dict[str, Any] | None) -> tuple[Slot, int]:
    if not item:
        return Slot(), 0
    entries = [Entry(float(ts), event_id, value) for ts, event_id, value in json.loads(item["entries"]["S"])]
    slot = Slot(entries=entries, ids={e.event_id for e in entries}, max_ts=float(item["max_ts"]["N"]),
                floor=float(item["floor"]["N"]) if "floor" in item else float("-inf"),
                expires=float(item["expires_at"]["N"]))
    return slot, int(item["version"]["N"])


def _item(pk: str, slot: Slot, version: int) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "version": {"N": str(version)},
            "entries": {"S": json.dumps([list(e) for e in slot.entries], separators=(",", ":"))},
            "max_ts": _num(slot.max_ts), "expires_at": {"N": str(math.ceil(slot.expires))}}
    if math.isfinite(slot.floor):
        item["floor"] = _num(slot.floor)
    return item


def _sort_time(moment: datetime) -> str:
    """Fixed-width ISO UTC (microseconds, ``Z``): string order is time order."""
    return _utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _query(what: str, region: str | None, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a Query, page after page (a page stops at 1 MB)."""
    dynamodb = aws.client("dynamodb", region)
    while True:
        page = _call(what, dynamodb.query, **kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoAlertStore:
    """:class:`~churnguard_ops.security.ports.AlertStore` on a table keyed by ``pk`` (S) + ``sk`` (S).

    Item: ``pk`` = ``alert#<organization_id or ->``, ``sk`` = ``<timestamp ISO UTC>#<alert_id>``, ``alert``
    (S: ``Alert.line()`` as JSON), ``detector``, ``severity``, ``published`` (BOOL), ``expires_at`` (TTL:
    the alert's time + ``retention_days``).
    """

    def __init__(self, table: str, region: str | None = None, retention_days: int = 400) -> None:
        self.table = table
        self.region = region
        self.retention = timedelta(days=retention_days)

    def put(self, alert: Alert) -> bool:
        key = _alert_key(alert)
        item = {**key, "alert": {"S": json.dumps(alert.line(), separators=(",", ":"), sort_keys=True)},
                "detector": {"S": alert.detector}, "severity": {"S": alert.severity}, "published": {"BOOL": False},
                "expires_at": {"N": str(_epoch(alert.timestamp + self.retention))}}
        what = f"store alert {alert.alert_id} in {self.table}"
        dynamodb = aws.client("dynamodb", self.region)
        try:
            _call(what, dynamodb.put_item, TableName=self.table, Item=item,
                  ConditionExpression="attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
            return True
        except _ConditionFailed as failed:
            stored = failed.item
        if stored is None:  # an endpoint that does not return the item on a failed condition
            stored = _call(what, dynamodb.get_item, TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return not (stored or {}).get("published", {}).get("BOOL", False)

    def mark_published(self, alert: Alert) -> None:
        what = f"mark alert {alert.alert_id} published in {self.table}"
        try:
            # The condition keeps an alert that was never stored from appearing as a bare key.
            _call(what, aws.client("dynamodb", self.region).update_item, TableName=self.table, Key=_alert_key(alert),
                  UpdateExpression="SET published = :yes", ConditionExpression="attribute_exists(pk)",
                  ExpressionAttributeValues={":yes": {"BOOL": True}})
        except _ConditionFailed as exc:
            raise NotFound(f"{what}: the alert is not stored") from exc

    def alerts(self, organization_id: str | None, start: datetime, end: datetime) -> list[Alert]:
        if _utc(end) <= _utc(start):
            return []
        # BETWEEN is inclusive, but "<end>#<id>" sorts after "<end>": start <= timestamp < end exactly.
        items = _query(f"query alerts in {self.table}", self.region, TableName=self.table,
                       KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                       ExpressionAttributeValues={":pk": {"S": _alert_pk(organization_id)},
                                                  ":lo": {"S": _sort_time(start)}, ":hi": {"S": _sort_time(end)}})
        return [Alert.model_validate(json.loads(item["alert"]["S"])) for item in items]


def _shard(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=2).digest(), "big") % TALLY_SHARDS


def _alert_pk(organization_id: str | None) -> str:
    return f"alert#{organization_id or '-'}"


def _alert_key(alert: Alert) -> dict[str, Any]:
    return {"pk": {"S": _alert_pk(alert.organization_id)},
            "sk": {"S": f"{_sort_time(alert.timestamp)}#{alert.alert_id}"}}


class DynamoEventTally:
    """:class:`~churnguard_ops.security.ports.EventTally` in the alert table (``pk`` + ``sk``).

    ``record`` is one transaction: ``seen#<event_id>``/``-`` written only if absent (TTL: event time + 8 days)
    and ``ADD n_<type> 1`` on ``tally#<org>#<shard>``/``<day>`` (TTL ``expires_at`` = day + ``retention_days``);
    days are UTC dates ``YYYY-MM-DD`` of event time. The shard (a hash of the event id, ``TALLY_SHARDS`` of
    them) spreads a busy organization's counters over several items, so concurrent Lambdas seldom touch the
    same item in their transactions; ``counts`` sums the shards.

    ``orgs``/``<day>`` lists the organizations of a day (``ADD orgs {org}``). It is written before the
    transaction (an organization listed with nothing counted is harmless; one counted but not listed would
    be missing from the reports) and at most once per organization and day per execution environment, so
    this one item is not written by every event.
    """

    def __init__(self, table: str, region: str | None = None, retention_days: int = 400) -> None:
        self.table = table
        self.region = region
        self.retention = timedelta(days=retention_days)
        self._listed: set[tuple[str, str]] = set()

    def record(self, event: Event) -> bool:
        org = event.organization_id
        if not org:
            return False
        moment = _utc(event.time)
        day = moment.date().isoformat()
        expires = {":exp": {"N": str(_epoch(datetime.combine(moment.date(), datetime.min.time(), timezone.utc)
                                            + self.retention))}}
        items = [
            {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": {"pk": {"S": f"seen#{event.event_id}"}, "sk": {"S": "-"},
                              "expires_at": {"N": str(_epoch(moment + timedelta(days=SEEN_DAYS)))}}}},
            {"Update": {"TableName": self.table,
                        "Key": {"pk": {"S": f"tally#{org}#{_shard(event.event_id)}"}, "sk": {"S": day}},
                        "UpdateExpression": "SET expires_at = :exp ADD #n :one",
                        "ExpressionAttributeNames": {"#n": f"n_{event.type}"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}, **expires}}},
        ]
        what = f"count event {event.event_id} in {self.table}"
        dynamodb = aws.client("dynamodb", self.region)
        if (org, day) not in self._listed:
            _call(f"list organization {org} on {day} in {self.table}", dynamodb.update_item, TableName=self.table,
                  Key={"pk": {"S": "orgs"}, "sk": {"S": day}}, UpdateExpression="SET expires_at = :exp ADD #o :org",
                  ExpressionAttributeNames={"#o": "orgs"}, ExpressionAttributeValues={":org": {"SS": [org]}, **expires})
            self._listed.add((org, day))
        for attempt in range(MAX_ATTEMPTS):
            try:
                dynamodb.transact_write_items(TransactItems=items)
                return True
            except Exception as exc:
                if _code(exc) != "TransactionCanceledException":
                    _raise(exc, what)
                reasons = [r.get("Code", "None") for r in getattr(exc, "response", {}).get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False  # counted before: a redelivery
                if "TransactionConflict" not in reasons:
                    error = Throttled if _THROTTLE_REASONS.intersection(reasons) else OpsError
                    raise error(f"{what}: transaction cancelled: {reasons}") from exc
                # Concurrent events of one organization and day update the same items: nothing was written.
                _backoff(attempt)
        raise Throttled(f"{what}: {MAX_ATTEMPTS} transactions in a row conflicted with concurrent ones")

    def counts(self, organization_id: str, start: date, end: date) -> dict[str, int]:
        totals: dict[str, int] = {}
        for shard in range(TALLY_SHARDS):
            for item in self._days(f"tally#{organization_id}#{shard}", start, end):
                for name, value in item.items():
                    if name.startswith("n_"):
                        totals[name[2:]] = totals.get(name[2:], 0) + int(value["N"])
        return totals

    def organizations(self, start: date, end: date) -> set[str]:
        return {org for item in self._days("orgs", start, end) for org in item.get("orgs", {}).get("SS", [])}

    def _days(self, pk: str, start: date, end: date) -> Iterator[dict[str, Any]]:
        if end <= start:
            return iter(())
        last = end - timedelta(days=1)  # BETWEEN is inclusive; the port's end is not
        return _query(f"query {pk} in {self.table}", self.region, TableName=self.table,
                      KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                      ExpressionAttributeValues={":pk": {"S": pk}, ":lo": {"S": start.isoformat()},
                                                 ":hi": {"S": last.isoformat()}})


if TYPE_CHECKING:  # mypy proves every adapter satisfies its port
    from churnguard_ops.security import ports

    _state: ports.DetectorState = DynamoDetectorState("t")
    _alerts: ports.AlertStore = DynamoAlertStore("t")
    _tally: ports.EventTally = DynamoEventTally("t")
