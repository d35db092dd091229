"""AWS adapters of the incident ports: the DynamoDB store (one table) and postmortems in S3.

Table layout (key ``pk``/``sk``):
- ``INC#<id>`` / ``META``: the incident as JSON in ``doc``, with ``status`` and ``opened_at`` for the
  ``by-status`` index and ``version`` for conditional saves;
- ``INC#<id>`` / ``T#<time>#<n>``: its timeline entries, in time order;
- ``PTR#alarm:<name>`` / ``PTR#group:<group>`` / ``PTR``: which incident an alarm or group is open in;
- ``expires_at`` (epoch seconds): DynamoDB's TTL removes a resolved incident and its timeline.
"""
from __future__ import annotations

import itertools
import json
import uuid
from datetime import datetime
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.contracts import INCIDENT_POSTMORTEMS_PREFIX, INCIDENTS_STATUS_INDEX, INCIDENTS_TTL_ATTRIBUTE
from churnguard_ops.core.errors import AlreadyExists, Conflict, guarded, raise_translated
from churnguard_ops.incidents.model import Incident, TimelineEntry

STATUS_INDEX = INCIDENTS_STATUS_INDEX
_META = "META"
_PTR = "PTR"


def _conditional_failed(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


class DynamoIncidentStore:
    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region
        self._seq = itertools.count()

    @property
    def _db(self) -> Any:
        return aws.client("dynamodb", self.region)

    # --- incidents -------------------------------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident | None:
        item = guarded(f"read incident {incident_id}", self._db.get_item, TableName=self.table,
                       Key=_key(f"INC#{incident_id}", _META), ConsistentRead=True).get("Item")
        return _incident(item) if item else None

    def create(self, incident: Incident) -> None:
        try:
            self._db.put_item(TableName=self.table, Item=self._meta(incident, 0),
                              ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            if _conditional_failed(exc):
                raise AlreadyExists(f"incident {incident.incident_id} exists") from None
            raise_translated(exc, f"create incident {incident.incident_id}")
        incident.version = 0

    def discard(self, incident_id: str) -> None:
        guarded(f"discard incident {incident_id}", self._db.delete_item, TableName=self.table,
                Key=_key(f"INC#{incident_id}", _META))

    def save(self, incident: Incident) -> None:
        """Only over the version read: a concurrent change makes this a ``Conflict`` (the caller re-reads)."""
        try:
            self._db.put_item(TableName=self.table, Item=self._meta(incident, incident.version + 1),
                              ConditionExpression="version = :read",
                              ExpressionAttributeValues={":read": {"N": str(incident.version)}})
        except Exception as exc:
            if _conditional_failed(exc):
                raise Conflict(f"incident {incident.incident_id} changed since it was read") from None
            raise_translated(exc, f"save incident {incident.incident_id}")
        incident.version += 1

    def by_status(self, status: str) -> list[Incident]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table, IndexName=STATUS_INDEX, KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": {"S": status}})
        try:
            return [_incident(item) for page in pages for item in page.get("Items", [])]
        except Exception as exc:
            raise_translated(exc, f"list {status} incidents")

    # --- timeline --------------------------------------------------------------------------------------------
    def append(self, incident_id: str, entries: list[TimelineEntry]) -> None:
        for entry in entries:
            # The time orders the timeline; the suffix keeps entries of the same instant apart.
            sk = f"T#{entry.at.isoformat()}#{next(self._seq):04d}-{uuid.uuid4().hex[:8]}"
            guarded(f"append to the timeline of {incident_id}", self._db.put_item, TableName=self.table,
                    Item={**_key(f"INC#{incident_id}", sk), "at": {"S": entry.at.isoformat()},
                          "kind": {"S": entry.kind}, "detail": {"S": entry.detail}, "by": {"S": entry.by}})

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        return [TimelineEntry(at=item["at"]["S"], kind=item["kind"]["S"], detail=item["detail"]["S"],
                              by=item["by"]["S"])
                for item in self._items(incident_id) if item["sk"]["S"].startswith("T#")]

    def expire(self, incident_id: str, at: datetime) -> None:
        epoch = {":t": {"N": str(int(at.timestamp()))}}
        for item in self._items(incident_id):
            guarded(f"expire {incident_id}", self._db.update_item, TableName=self.table,
                    Key={"pk": item["pk"], "sk": item["sk"]}, UpdateExpression="SET #ttl = :t",
                    ExpressionAttributeNames={"#ttl": INCIDENTS_TTL_ATTRIBUTE},
                    ExpressionAttributeValues=epoch)

    # --- pointers --------------------------------------------------------------------------------------------
    def pointer(self, key: str) -> str | None:
        item = guarded(f"read pointer {key}", self._db.get_item, TableName=self.table,
                       Key=_key(f"PTR#{key}", _PTR), ConsistentRead=True).get("Item")
        return item["incident_id"]["S"] if item else None

    def claim(self, key: str, incident_id: str, replacing: str | None) -> bool:
        """Point ``key`` at ``incident_id`` if it is free or still points at ``replacing`` (a stale one)."""
        call: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if replacing:
            call = {"ConditionExpression": "attribute_not_exists(pk) OR incident_id = :old",
                    "ExpressionAttributeValues": {":old": {"S": replacing}}}
        item = {**_key(f"PTR#{key}", _PTR), "incident_id": {"S": incident_id}}
        try:
            self._db.put_item(TableName=self.table, Item=item, **call)
        except Exception as exc:
            if _conditional_failed(exc):
                return False
            raise_translated(exc, f"claim pointer {key}")
        return True

    def release(self, key: str, incident_id: str) -> None:
        try:
            self._db.delete_item(TableName=self.table, Key=_key(f"PTR#{key}", _PTR),
                                 ConditionExpression="incident_id = :mine",
                                 ExpressionAttributeValues={":mine": {"S": incident_id}})
        except Exception as exc:
            if not _conditional_failed(exc):  # held by another incident by now (or gone): not ours to delete
                raise_translated(exc, f"release pointer {key}")

    # --- helpers ---------------------------------------------------------------------------------------------
    def _items(self, incident_id: str) -> list[dict[str, Any]]:
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"INC#{incident_id}"}}, ConsistentRead=True)
        try:
            return [item for page in pages for item in page.get("Items", [])]
        except Exception as exc:
            raise_translated(exc, f"read incident {incident_id}")

    @staticmethod
    def _meta(incident: Incident, version: int) -> dict[str, Any]:
        doc = incident.model_dump(mode="json", exclude={"version"})
        return {**_key(f"INC#{incident.incident_id}", _META), "status": {"S": incident.status},
                "opened_at": {"S": incident.opened_at.isoformat()}, "version": {"N": str(version)},
                "doc": {"S": json.dumps(doc, sort_keys=True)}}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _incident(item: dict[str, Any]) -> Incident:
    incident = Incident.model_validate_json(item["doc"]["S"])
    incident.version = int(item["version"]["N"])
    return incident


class S3Postmortems:
    """Markdown drafts under ``incidents/postmortems/<id>.md`` in the ops bucket, SSE-KMS with the ops key."""

    def __init__(self, bucket: str, kms_key_arn: str | None, region: str | None = None) -> None:
        self.bucket = bucket
        self.kms_key_arn = kms_key_arn
        self.region = region

    def write(self, incident_id: str, markdown: str) -> str:
        key = f"{INCIDENT_POSTMORTEMS_PREFIX}{incident_id}.md"
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn} if self.kms_key_arn else {}
        guarded(f"write s3://{self.bucket}/{key}", aws.client("s3", self.region).put_object, Bucket=self.bucket,
                Key=key, Body=markdown.encode(), ContentType="text/markdown; charset=utf-8", **extra)
        return f"s3://{self.bucket}/{key}"


