"""The shared AWS adapters of churnguard_ops.core against moto (in-process): what every capability relies on."""
from __future__ import annotations

import json

import boto3
import pytest

from churnguard_ops.core import contracts
from churnguard_ops.core.errors import NotFound, OpsError, RefusedDeletion
from churnguard_ops.core.rds import RdsGateway
from churnguard_ops.core.stores import DynamoRecords, EventBridgePublisher, S3Documents, SnsNotifier

REGION = "us-east-1"
OURS = {contracts.MARKER_TAG: contracts.MARKER_VALUE}


def _instance(identifier: str, **extra) -> None:
    boto3.client("rds", REGION).create_db_instance(
        DBInstanceIdentifier=identifier, Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="not-a-secret-1", **extra)


def test_guarded_snapshot_delete_reads_live_tags_and_refuses_what_we_did_not_create(moto_aws):
    _instance("prod")
    rds = RdsGateway(REGION)
    rds.create_snapshot("prod", "churnguard-ops-prod-database-1", OURS)
    boto3.client("rds", REGION).create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="dba-manual")

    with pytest.raises(RefusedDeletion, match="dba-manual"):
        rds.delete_snapshot("dba-manual", required_tags=OURS)
    rds.delete_snapshot("churnguard-ops-prod-database-1", required_tags=OURS)

    assert [s.snapshot_id for s in rds.snapshots("prod")] == ["dba-manual"]


def test_guarded_instance_delete_lifts_deletion_protection_of_our_copy_only(moto_aws):
    drill_tags = [{"Key": k, "Value": v} for k, v in contracts.DRILL_TAGS.items()]
    _instance("churnguard-ops-drill-t1", DeletionProtection=True, Tags=drill_tags)
    _instance("prod", DeletionProtection=True)
    rds = RdsGateway(REGION)
    assert rds.instance("churnguard-ops-drill-t1").deletion_protection

    with pytest.raises(RefusedDeletion):
        rds.delete_instance("prod", required_tags=contracts.DRILL_TAGS)
    rds.delete_instance("churnguard-ops-drill-t1", required_tags=contracts.DRILL_TAGS)

    remaining = {i.instance_id: i for i in rds.instances()}
    assert "prod" in remaining and remaining["prod"].deletion_protection
    assert remaining.get("churnguard-ops-drill-t1") is None or remaining["churnguard-ops-drill-t1"].status == "deleting"


def test_a_missing_instance_is_a_domain_not_found(moto_aws):
    with pytest.raises(NotFound, match="describe nowhere"):
        RdsGateway(REGION).instance("nowhere")


def test_documents_round_trip_and_a_missing_one_is_none(moto_aws):
    boto3.client("s3", REGION).create_bucket(Bucket="ops")
    documents = S3Documents("ops", REGION)
    assert documents.load(contracts.baseline_key("prod", "snap")) is None
    location = documents.save("drills/2026/11/d1.json", {"passed": True})
    assert location == "s3://ops/drills/2026/11/d1.json"
    assert documents.load("drills/2026/11/d1.json") == {"passed": True}


def test_notifications_and_events_reach_their_subscribers(moto_aws):
    sqs = boto3.client("sqs", REGION)
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = boto3.client("sns", REGION).create_topic(Name="ops")["TopicArn"]
    boto3.client("sns", REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    events = boto3.client("events", REGION)
    events.put_rule(Name="ops-events", EventPattern=json.dumps({"source": ["churnguard.ops.test"]}))
    events.put_targets(Rule="ops-events", Targets=[{"Id": "inbox", "Arn": queue_arn}])

    SnsNotifier(topic_arn, REGION).publish("x" * 150, "drill passed")
    EventBridgePublisher("churnguard.ops.test", region=REGION).publish("Drill Finished", {"passed": True})

    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
              .get("Messages", [])]
    notification = next(b for b in bodies if b.get("Type") == "Notification")
    assert notification["Message"] == "drill passed" and len(notification["Subject"]) == 100
    event = next(b for b in bodies if b.get("detail-type") == "Drill Finished")
    assert event["source"] == "churnguard.ops.test" and event["detail"] == {"passed": True}


def test_records_are_written_as_typed_items_and_a_missing_table_is_an_error(moto_aws):
    dynamodb = boto3.client("dynamodb", REGION)
    dynamodb.create_table(TableName="history", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    DynamoRecords("history", REGION).record({"pk": "d1", "rto_seconds": 12.5, "report_s3": None})
    item = dynamodb.get_item(TableName="history", Key={"pk": {"S": "d1"}})["Item"]
    assert item == {"pk": {"S": "d1"}, "rto_seconds": {"N": "12.5"}}
    with pytest.raises(OpsError, match="record item in missing"):
        DynamoRecords("missing", REGION).record({"pk": "d1"})


def test_an_empty_tag_requirement_never_deletes(moto_aws):
    _instance("prod")
    rds = RdsGateway(REGION)
    rds.create_snapshot("prod", "churnguard-ops-prod-database-2", OURS)
    with pytest.raises(ValueError):
        rds.delete_snapshot("churnguard-ops-prod-database-2", required_tags={})
    with pytest.raises(ValueError):
        rds.delete_instance("prod", required_tags={})
    assert [s.snapshot_id for s in rds.snapshots("prod")] == ["churnguard-ops-prod-database-2"]
    assert rds.instance("prod").status == "available"


def test_an_instance_keeps_the_identifier_it_was_asked_for(moto_aws):
    _instance("prod")
    assert RdsGateway(REGION).instance("PROD").instance_id == "PROD"


def test_tagging_a_snapshot_overwrites_that_tag_and_keeps_the_others(moto_aws):
    _instance("prod")
    rds = RdsGateway(REGION)
    snapshot = rds.create_snapshot("prod", "churnguard-ops-prod-database-2", {**OURS, "RetentionDate": "2026-12-01"})
    rds.tag_snapshot(snapshot, {"RetentionDate": "2027-12-01"})
    assert rds.snapshot(snapshot.snapshot_id).tags == {**OURS, "RetentionDate": "2027-12-01"}
