"""AWS adapters of the performance ports: RDS instance classes, the DynamoDB dedup table, reports in S3
(and :class:`~churnguard_ops.performance.cloudwatch.CloudWatchMetricReader` for metrics)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import NotFound, guarded, raise_translated
from churnguard_ops.core.stores import S3ReportStore
from churnguard_ops.performance.cloudwatch import CloudWatchMetricReader
from churnguard_ops.performance.model import AlertState

__all__ = ["CloudWatchMetricReader", "DynamoAlertStates", "RdsInstanceClasses", "S3ReportStore"]


class RdsInstanceClasses:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def instance_class(self, db_instance_id: str) -> str | None:
        try:
            found = guarded(f"describe {db_instance_id}", aws.client("rds", self.region).describe_db_instances,
                            DBInstanceIdentifier=db_instance_id)
        except NotFound:
            return None
        instances = found.get("DBInstances", [])
        return str(instances[0]["DBInstanceClass"]) if instances else None


class DynamoAlertStates:
    """Items ``{pk: <kind>#<resource>, severity, version, since, expires_at}``; every write is conditional on
    the version read (or on the item's absence), so of two overlapping runs only one claims a transition."""

    def __init__(self, table: str, region: str | None = None) -> None:
        self.table = table
        self.region = region

    def load(self) -> dict[str, AlertState]:
        client = aws.client("dynamodb", self.region)
        states: dict[str, AlertState] = {}
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = guarded(f"scan {self.table}", client.scan, **kwargs)
            for item in page.get("Items", []):
                severity = item.get("severity", {}).get("S") or None
                states[item["pk"]["S"]] = AlertState(severity=severity, version=int(item["version"]["N"]),
                                                     since=item.get("since", {}).get("S"))
            if "LastEvaluatedKey" not in page:
                return states
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim(self, key: str, expected: AlertState | None, new: AlertState, *, expires_at: int) -> bool:
        item: dict[str, Any] = {"pk": {"S": key}, "severity": {"S": new.severity or ""},
                                "version": {"N": str(new.version)}, "expires_at": {"N": str(expires_at)}}
        if new.since:
            item["since"] = {"S": new.since}
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"} if expected is None else
            {"ConditionExpression": "version = :read",
             "ExpressionAttributeValues": {":read": {"N": str(expected.version)}}})
        client = aws.client("dynamodb", self.region)
        try:
            client.put_item(TableName=self.table, Item=item, **condition)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                return False
            raise_translated(exc, f"claim {key} in {self.table}")
        return True

    def release(self, key: str, claimed: AlertState, previous: AlertState | None, *, expires_at: int) -> None:
        if previous is not None:
            # Back to the previous state under a newer version: a run still holding ``claimed`` cannot write.
            restored = AlertState(previous.severity, claimed.version + 1, previous.since)
            self.claim(key, claimed, restored, expires_at=expires_at)
            return
        client = aws.client("dynamodb", self.region)
        try:
            client.delete_item(TableName=self.table, Key={"pk": {"S": key}}, ConditionExpression="version = :v",
                               ExpressionAttributeValues={":v": {"N": str(claimed.version)}})
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code", "") != "ConditionalCheckFailedException":
                raise_translated(exc, f"release {key} in {self.table}")



if TYPE_CHECKING:  # each adapter stands for its port (mypy checks these assignments)
    from churnguard_ops.performance import ports

    _metrics: ports.MetricReader = CloudWatchMetricReader()
    _classes: ports.InstanceClasses = RdsInstanceClasses()
    _states: ports.AlertStates = DynamoAlertStates("table")
    _store: ports.ReportStore = S3ReportStore("bucket", None)
