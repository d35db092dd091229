"""AWS adapters of the drill's own ports (:mod:`churnguard_ops.drill.ports`)."""
from __future__ import annotations

from datetime import datetime

from churnguard_ops.core import aws
from churnguard_ops.core.clock import parse_time
from churnguard_ops.core.errors import guarded
from churnguard_ops.drill.ports import RdsEvent


class RdsInstanceEvents:
    def __init__(self, region: str) -> None:
        self.region = region

    def instance_events(self, instance_id: str, start: datetime, end: datetime) -> list[RdsEvent]:
        client = aws.client("rds", self.region)
        found: list[RdsEvent] = []
        kwargs = {"SourceType": "db-instance", "SourceIdentifier": instance_id, "StartTime": start, "EndTime": end,
                  "MaxRecords": 100}
        while True:
            page = guarded(f"describe events of {instance_id}", client.describe_events, **kwargs)
            found += [RdsEvent(source_identifier=e.get("SourceIdentifier", ""), date=e["Date"],
                               message=e.get("Message", ""), categories=tuple(e.get("EventCategories", [])))
                      for e in page.get("Events", []) if e.get("Date")]
            if not page.get("Marker"):
                return found
            kwargs["Marker"] = page["Marker"]


class DynamoDrillHistory:
    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region

    def last_success(self, source_instance: str) -> datetime | None:
        # All passed drills of one instance: a handful a month, so no index is needed; the newest
        # by reported_at (the sort key, drill_id, orders by time too, but "unplanned-*" ids do not).
        client = aws.client("dynamodb", self.region)
        kwargs = {"TableName": self.table, "KeyConditionExpression": "source_instance = :s",
                  "FilterExpression": "passed = :t", "ProjectionExpression": "reported_at",
                  "ExpressionAttributeValues": {":s": {"S": source_instance}, ":t": {"BOOL": True}}}
        newest: datetime | None = None
        while True:
            page = guarded(f"read drill history of {source_instance}", client.query, **kwargs)
            for item in page.get("Items", []):
                when = parse_time(item.get("reported_at", {}).get("S"))
                if when is not None and (newest is None or when > newest):
                    newest = when
            if not page.get("LastEvaluatedKey"):
                return newest
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
