"""The performance adapters on moto (in-process): conditional dedup claims in DynamoDB, GetMetricData values
by period, instance classes from RDS, reports in S3 with the ops key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from churnguard_ops.performance.adapters import (
    CloudWatchMetricReader,
    DynamoAlertStates,
    RdsInstanceClasses,
    S3ReportStore,
)
from churnguard_ops.performance.model import AlertState, RawQuery

pytestmark = pytest.mark.integration

REGION = "us-east-1"
HOUR = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def _table() -> DynamoAlertStates:
    boto3.client("dynamodb", REGION).create_table(
        TableName="perf-alerts", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    return DynamoAlertStates("perf-alerts", REGION)


def test_a_claim_succeeds_once_and_a_run_holding_a_stale_version_is_refused(moto_aws: None) -> None:
    states = _table()
    high = AlertState(severity="high", version=1, since="2026-11-30T10:00:00+00:00")
    assert states.claim("rds_cpu#db1", None, high, expires_at=1_900_000_000) is True
    assert states.claim("rds_cpu#db1", None, high, expires_at=1_900_000_000) is False  # an overlapping run
    assert states.load() == {"rds_cpu#db1": high}
    recovered = AlertState(severity=None, version=2)
    assert states.claim("rds_cpu#db1", high, recovered, expires_at=1_900_000_000) is True
    assert states.claim("rds_cpu#db1", high, AlertState(severity="critical", version=2), expires_at=1) is False
    assert states.load() == {"rds_cpu#db1": recovered}
    item = boto3.client("dynamodb", REGION).get_item(TableName="perf-alerts", Key={"pk": {"S": "rds_cpu#db1"}})
    assert item["Item"]["expires_at"] == {"N": "1900000000"}


def test_a_released_claim_is_undone_only_while_it_is_still_the_stored_one(moto_aws: None) -> None:
    states = _table()
    high = AlertState(severity="high", version=1)
    critical = AlertState(severity="critical", version=2)
    states.claim("k", None, high, expires_at=1)
    states.claim("k", high, critical, expires_at=1)
    states.release("k", critical, high, expires_at=1)  # back to high, under a newer version
    assert states.load() == {"k": AlertState(severity="high", version=3)}
    states.release("k", critical, high, expires_at=1)  # no longer the stored state: nothing changes
    assert states.load()["k"].version == 3
    states.claim("new", None, high, expires_at=1)
    states.release("new", high, None, expires_at=1)  # a first breach undone: no item left
    assert "new" not in states.load()


def test_metric_values_come_back_by_period_start_in_one_call(moto_aws: None) -> None:
    cloudwatch = boto3.client("cloudwatch", REGION)
    dims = [{"Name": "DBInstanceIdentifier", "Value": "db1"}]
    cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": HOUR + timedelta(minutes=m), "Value": v}
        for m, v in ((10, 40.0), (20, 60.0), (70, 90.0))])
    query = RawQuery("q1", "AWS/RDS", "CPUUtilization", (("DBInstanceIdentifier", "db1"),), "Average")
    other = RawQuery("q2", "AWS/RDS", "CPUUtilization", (("DBInstanceIdentifier", "db2"),), "Average")
    read = CloudWatchMetricReader(REGION).read([query, other], HOUR, HOUR + timedelta(hours=2), 3600)
    assert read.calls == 1 and read.queries == 2
    assert read.values["q1"] == {HOUR: 50.0, HOUR + timedelta(hours=1): 90.0}
    assert read.values["q2"] == {}


def test_the_instance_class_of_a_database_and_none_for_a_missing_one(moto_aws: None) -> None:
    boto3.client("rds", REGION).create_db_instance(
        DBInstanceIdentifier="db1", DBInstanceClass="db.t3.medium", Engine="postgres", AllocatedStorage=20,
        MasterUsername="u", MasterUserPassword="password-1")
    classes = RdsInstanceClasses(REGION)
    assert classes.instance_class("db1") == "db.t3.medium"
    assert classes.instance_class("nope") is None


def test_reports_are_stored_with_the_ops_key(moto_aws: None) -> None:
    key_arn = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    boto3.client("s3", REGION).create_bucket(Bucket="ops-bucket")
    store = S3ReportStore("ops-bucket", key_arn, REGION)
    location = store.put("performance/reports/x/report.md", "# r", "text/markdown")
    head = boto3.client("s3", REGION).head_object(Bucket="ops-bucket", Key="performance/reports/x/report.md")
    assert location == "s3://ops-bucket/performance/reports/x/report.md"
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
