"""The ledger in DynamoDB: one item per finding, written conditionally on its version, and the watermarks.

Item: ``pk`` = ``finding#<key>``, the entry as JSON (``doc``), its ``version``, and ``state`` / ``resource`` /
``severity`` at the top level for the sparse ``state``+``resource`` index (``core.contracts``). A write
succeeds only if the stored version is still the one read (``attribute_not_exists(pk)`` for a new finding),
so two writers (the scheduled poll and an Inspector event) never lose each other's changes: the loser gets
``Conflict``, re-reads and re-applies (:meth:`DynamoLedger.update`).

Each source's latest scan summary (``scan#<source>``: when, complete or not, what it could not check) is
kept for the report. Watermarks
(``watermark#<source>``) only move forward: a slow poll finishing after a newer one cannot move
the next poll's start back and replay (or worse, skip) findings.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any, get_args

from churnguard_ops.core import aws, contracts
from churnguard_ops.core.errors import Conflict, raise_translated
from churnguard_ops.vulns.model import LedgerEntry, ScanSummary, State

_CONDITION_FAILED = "ConditionalCheckFailedException"
_PK = contracts.VULNS_LEDGER_KEY
_STATE = contracts.VULNS_LEDGER_STATE_ATTRIBUTE
_RESOURCE = contracts.VULNS_LEDGER_RESOURCE_ATTRIBUTE
ALL_STATES: tuple[State, ...] = get_args(State)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class DynamoLedger:
    """The ``LedgerStore`` port on one DynamoDB table (plus the watermark items)."""

    def __init__(self, table: str, region: str | None = None, *, max_attempts: int = 5) -> None:
        self.table = table
        self.region = region
        self.max_attempts = max_attempts

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb", self.region)

    # -- entries ----------------------------------------------------------------------------------------------
    def get(self, key: str) -> LedgerEntry | None:
        try:
            item = self._db.get_item(TableName=self.table, Key={_PK: {"S": f"finding#{key}"}},
                                     ConsistentRead=True).get("Item")
        except Exception as exc:
            raise_translated(exc, f"read ledger entry {key} from {self.table}")
        return _entry(item) if item else None

    def put(self, entry: LedgerEntry) -> LedgerEntry:
        """Store ``entry`` if the stored version is still ``entry.version``; returns it with the new version."""
        stored = entry.model_copy(update={"version": entry.version + 1})
        item = {
            _PK: {"S": f"finding#{entry.key}"}, "doc": {"S": stored.model_dump_json()},
            "version": {"N": str(stored.version)}, _STATE: {"S": stored.state},
            _RESOURCE: {"S": stored.finding.resource}, "severity": {"S": stored.finding.severity},
            "vuln_id": {"S": stored.finding.vuln_id},
        }
        if entry.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(#pk)",
                                         "ExpressionAttributeNames": {"#pk": _PK}}
        else:
            condition = {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
                         "ExpressionAttributeValues": {":v": {"N": str(entry.version)}}}
        what = f"write ledger entry {entry.key} (version {entry.version}) to {self.table}"
        try:
            self._db.put_item(TableName=self.table, Item=item, **condition)
        except Exception as exc:
            if _code(exc) == _CONDITION_FAILED:
                raise Conflict(f"{what}: another writer changed it first") from exc
            raise_translated(exc, what)
        return stored

    def update(self, key: str, apply: Callable[[LedgerEntry | None], LedgerEntry | None]) -> LedgerEntry | None:
        """Read-apply-put, again on a conflict (up to ``max_attempts``): ``apply`` gets the stored entry (None:
        new) and returns the entry to store (None: nothing to write); it must be a pure function of its input,
        since it may run more than once."""
        for attempt in range(1, self.max_attempts + 1):
            current = self.get(key)
            wanted = apply(current)
            if wanted is None:
                return current
            try:
                return self.put(wanted.model_copy(update={"version": current.version if current else 0}))
            except Conflict:
                if attempt == self.max_attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def query(self, *, states: Collection[State] | None = None, resource: str | None = None) -> list[LedgerEntry]:
        """Entries in ``states`` (None: any) on ``resource`` (None: any), through the state index, every page."""
        entries: list[LedgerEntry] = []
        for state in (states if states is not None else ALL_STATES):
            entries += [_entry(item) for item in self._index(state, resource)]
        return sorted(entries, key=lambda e: e.key)

    def _index(self, state: str, resource: str | None) -> Iterator[dict[str, Any]]:
        condition = "#s = :s" + (" AND #r = :r" if resource is not None else "")
        names = {"#s": _STATE, **({"#r": _RESOURCE} if resource is not None else {})}
        values = {":s": {"S": state}, **({":r": {"S": resource}} if resource is not None else {})}
        start: dict[str, Any] | None = None
        while True:
            try:
                page = self._db.query(TableName=self.table, IndexName=contracts.VULNS_LEDGER_STATE_INDEX,
                                      KeyConditionExpression=condition, ExpressionAttributeNames=names,
                                      ExpressionAttributeValues=values,
                                      **({"ExclusiveStartKey": start} if start else {}))
            except Exception as exc:
                raise_translated(exc, f"query {state} ledger entries in {self.table}")
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    # -- watermarks -------------------------------------------------------------------------------------------
    def watermark(self, source: str) -> datetime | None:
        """Where the next incremental poll of ``source`` starts (None: never polled)."""
        try:
            item = self._db.get_item(TableName=self.table, Key={_PK: {"S": f"watermark#{source}"}},
                                     ConsistentRead=True).get("Item")
        except Exception as exc:
            raise_translated(exc, f"read the {source} watermark from {self.table}")
        return datetime.fromtimestamp(float(item["at"]["N"]), timezone.utc) if item else None

    def save_watermark(self, source: str, at: datetime) -> bool:
        """Move the watermark forward to ``at``; False (and unchanged) when it is already later."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item={_PK: {"S": f"watermark#{source}"}, "at": {"N": repr(at.timestamp())},
                      "iso": {"S": at.astimezone(timezone.utc).isoformat()}},
                ConditionExpression="attribute_not_exists(#pk) OR #at <= :at",
                ExpressionAttributeNames={"#pk": _PK, "#at": "at"},
                ExpressionAttributeValues={":at": {"N": repr(at.timestamp())}})
        except Exception as exc:
            if _code(exc) == _CONDITION_FAILED:
                return False
            raise_translated(exc, f"save the {source} watermark in {self.table}")
        return True

    # -- each source's latest scan (the report's per-source section, its "not checked" items) --------------------
    def save_scan(self, summary: ScanSummary) -> None:
        """Keep ``summary`` as its source's latest scan (an older one than the kept one is ignored)."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item={_PK: {"S": f"scan#{summary.source}"}, "doc": {"S": summary.model_dump_json()},
                      "at": {"N": repr(summary.scanned_at.timestamp())}},
                ConditionExpression="attribute_not_exists(#pk) OR #at <= :at",
                ExpressionAttributeNames={"#pk": _PK, "#at": "at"},
                ExpressionAttributeValues={":at": {"N": repr(summary.scanned_at.timestamp())}})
        except Exception as exc:
            if _code(exc) == _CONDITION_FAILED:
                return
            raise_translated(exc, f"save the latest {summary.source} scan in {self.table}")

    def scans(self, sources: Iterable[str]) -> list[ScanSummary]:
        """The latest scan of each of ``sources`` that has one."""
        out: list[ScanSummary] = []
        for source in sources:
            try:
                item = self._db.get_item(TableName=self.table, Key={_PK: {"S": f"scan#{source}"}},
                                         ConsistentRead=True).get("Item")
            except Exception as exc:
                raise_translated(exc, f"read the latest {source} scan from {self.table}")
            if item:
                out.append(ScanSummary.model_validate_json(item["doc"]["S"]))
        return out

def _entry(item: dict[str, Any]) -> LedgerEntry:
    entry = LedgerEntry.model_validate_json(item["doc"]["S"])
    version = int(item["version"]["N"])
    return entry if entry.version == version else entry.model_copy(update={"version": version})
