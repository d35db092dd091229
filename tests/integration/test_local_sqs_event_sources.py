"""SQS event source mappings in the embedded AWS: queues drive their Lambdas in batches, with
ReportBatchItemFailures, redelivery and redrive to the DLQ (``opsctl.local.sqs_event_sources``).

One embedded AWS for the module; each test uses its own queue and function names. Retries come back at once
(``retry_visibility_timeout_seconds = 0``) instead of after the queue's visibility timeout.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel

from opsctl.local.aws import EmbeddedAws
from opsctl.local.deploy import deploy_stack

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-east-1"
DRAIN = 30  # seconds: a bound for a loaded machine; drain returns as soon as the queues are empty


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        embedded.reset()
        embedded.sqs_event_sources.retry_visibility_timeout_seconds = 0
        yield embedded


@pytest.fixture(scope="module")
def role(aws: EmbeddedAws) -> str:
    return aws.client("iam").create_role(RoleName="esm-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


@pytest.fixture(autouse=True)
def _one_test_one_mapping_set(aws: EmbeddedAws) -> Iterator[None]:
    """Each test's mappings are deleted after it: the poller's passes stay as short as one test needs."""
    yield
    lam = aws.client("lambda")
    for mapping in lam.list_event_source_mappings()["EventSourceMappings"]:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


class Recorder:
    """A handler that keeps every event it was invoked with; ``respond`` decides what it returns (or raises)."""

    def __init__(self, respond: Callable[[dict[str, Any], int], Any] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.function_names: list[str] = []
        self.invoked_arns: list[str] = []
        self._respond = respond
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.events.append(event)
            self.function_names.append(os.environ["AWS_LAMBDA_FUNCTION_NAME"])
            self.invoked_arns.append(context.invoked_function_arn)
            call = len(self.events)
        return self._respond(event, call) if self._respond else None

    def bodies(self) -> list[list[str]]:
        return [[r["body"] for r in event["Records"]] for event in self.events]

    def deliveries(self, body: str) -> list[str]:
        """The ApproximateReceiveCount of each delivery of the message with ``body``."""
        return [r["attributes"]["ApproximateReceiveCount"] for event in self.events for r in event["Records"]
                if r["body"] == body]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "in-process")
    return buf.getvalue()


def create_function(aws: EmbeddedAws, role: str, name: str, handler: Recorder) -> None:
    aws.client("lambda").create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                         Code={"ZipFile": _zip()})
    aws.register(name, handler)


def create_queue(aws: EmbeddedAws, name: str, max_receive_count: int | None = None) -> tuple[str, str, str | None]:
    """(queue URL, queue ARN, DLQ URL); with ``max_receive_count`` the queue redrives to ``<name>-dlq``."""
    sqs = aws.client("sqs")
    attributes, dlq_url = {}, None
    if max_receive_count is not None:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}-dlq",
                                                  "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", dlq_url


def send(aws: EmbeddedAws, url: str, bodies: list[str]) -> None:
    sqs = aws.client("sqs")
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body}
                                                      for i, body in enumerate(bodies[start:start + 10])])


def map_disabled_then_send(aws: EmbeddedAws, url: str, queue_arn: str, function: str, bodies: list[str],
                           **mapping: Any) -> str:
    """A mapping created disabled, the messages sent, then the mapping enabled: the batches are deterministic."""
    lam = aws.client("lambda")
    uuid = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function, Enabled=False,
                                           **mapping)["UUID"]
    send(aws, url, bodies)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    return str(uuid)


def queue_counts(aws: EmbeddedAws, url: str) -> tuple[int, int]:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def receive_all(aws: EmbeddedAws, url: str) -> list[str]:
    messages = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in messages)


# --------------------------------------------------------------------------------------
def test_no_mapping_no_poller_and_moto_does_not_consume_a_mapped_queue_itself(aws: EmbeddedAws, role: str) -> None:
    assert not aws.sqs_event_sources.running  # nothing polls while no mapping exists
    url, arn, _ = create_queue(aws, "esm-first")
    recorder = Recorder()
    create_function(aws, role, "esm-first", recorder)
    uuid = aws.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="esm-first")["UUID"]
    assert aws.sqs_event_sources.running
    send(aws, url, ["one"])  # moto alone would receive and delete it inside SendMessage, unseen
    aws.sqs_event_sources.drain(DRAIN)
    assert recorder.bodies() == [["one"]]
    assert aws.sqs_event_sources.stats(uuid).deleted == 1


def test_a_batch_reaches_the_handler_in_one_invocation_with_real_shaped_records(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-shape")
    recorder = Recorder()
    create_function(aws, role, "esm-shape", recorder)
    # messages sent one by one wait for each other (the batching window) until the batch is full
    uuid = aws.client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName="esm-shape", BatchSize=5, MaximumBatchingWindowInSeconds=30)["UUID"]
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody='{"n": 0}', MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "login"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    for n in range(1, 5):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))

    stats = aws.sqs_event_sources.drain(DRAIN)

    assert len(recorder.events) == 1
    event = recorder.events[0]
    assert [json.loads(body)["n"] for body in recorder.bodies()[0]] == [0, 1, 2, 3, 4]
    parse(event=event, model=SqsModel)  # the shape Powertools' parser (and the handlers) expect
    first = event["Records"][0]
    assert set(first) >= {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                          "eventSource", "eventSourceARN", "awsRegion"}
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == arn
    assert first["awsRegion"] == REGION
    assert first["md5OfBody"] == hashlib.md5(first["body"].encode()).hexdigest()  # noqa: S324 - SQS's checksum
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(first["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert first["messageAttributes"]["kind"] == {"stringValue": "login", "stringListValues": [],
                                                  "binaryListValues": [], "dataType": "String"}
    assert base64.b64decode(first["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    # it ran as the function, through the public Invoke API
    assert recorder.function_names == ["esm-shape"]
    assert queue_counts(aws, url) == (0, 0)
    assert aws.sqs_event_sources.stats(uuid).batches == 1
    assert aws.sqs_event_sources.stats(uuid).deleted == 5
    assert stats.messages >= 5  # the total over every mapping so far


def test_batch_size_is_honoured(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-size")
    recorder = Recorder()
    create_function(aws, role, "esm-size", recorder)
    uuid = map_disabled_then_send(aws, url, arn, "esm-size", [f"m{i}" for i in range(10)], BatchSize=4)

    aws.sqs_event_sources.drain(DRAIN)

    assert [len(bodies) for bodies in recorder.bodies()] == [4, 4, 2]
    assert sorted(b for bodies in recorder.bodies() for b in bodies) == sorted(f"m{i}" for i in range(10))
    assert aws.sqs_event_sources.stats(uuid).batches == 3


def test_partial_failures_redeliver_only_the_failed_messages_and_they_reach_the_dlq_after_max_receive_count(
    aws: EmbeddedAws, role: str
) -> None:
    url, arn, dlq_url = create_queue(aws, "esm-partial", max_receive_count=2)
    assert dlq_url is not None

    def report_bad(event: dict[str, Any], _call: int) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"].startswith("bad")]}

    recorder = Recorder(report_bad)
    create_function(aws, role, "esm-partial", recorder)
    uuid = map_disabled_then_send(aws, url, arn, "esm-partial", ["ok-1", "bad-1", "ok-2", "bad-2", "ok-3"],
                                  BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])

    aws.sqs_event_sources.drain(DRAIN)

    assert sorted(recorder.bodies()[0]) == ["bad-1", "bad-2", "ok-1", "ok-2", "ok-3"]
    assert sorted(recorder.bodies()[1]) == ["bad-1", "bad-2"]  # only the reported ones came back
    assert len(recorder.events) == 2
    for body in ("ok-1", "ok-2", "ok-3"):
        assert recorder.deliveries(body) == ["1"]
    for body in ("bad-1", "bad-2"):
        assert recorder.deliveries(body) == ["1", "2"]  # maxReceiveCount deliveries, then the DLQ
    assert queue_counts(aws, url) == (0, 0)
    assert receive_all(aws, dlq_url) == ["bad-1", "bad-2"]
    stats = aws.sqs_event_sources.stats(uuid)
    assert (stats.batches, stats.messages, stats.item_failures, stats.deleted, stats.failures) == (2, 7, 4, 3, 0)
    assert [o.result for o in aws.sqs_event_sources.outcomes(uuid)] == ["partial", "partial"]


def test_a_raising_handler_gets_the_whole_batch_again(aws: EmbeddedAws, role: str) -> None:
    url, arn, dlq_url = create_queue(aws, "esm-raise", max_receive_count=3)

    def fail_first(_event: dict[str, Any], call: int) -> None:
        if call == 1:
            raise RuntimeError("transient")

    recorder = Recorder(fail_first)
    create_function(aws, role, "esm-raise", recorder)
    uuid = map_disabled_then_send(aws, url, arn, "esm-raise", ["a", "b", "c"],
                                  FunctionResponseTypes=["ReportBatchItemFailures"])

    aws.sqs_event_sources.drain(DRAIN)

    assert [sorted(bodies) for bodies in recorder.bodies()] == [["a", "b", "c"], ["a", "b", "c"]]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in recorder.events[1]["Records"]} == {"2"}
    assert [o.result for o in aws.sqs_event_sources.outcomes(uuid)] == ["function_error", "success"]
    assert "transient" in (aws.sqs_event_sources.outcomes(uuid)[0].error or "")
    stats = aws.sqs_event_sources.stats(uuid)
    assert (stats.failures, stats.retried, stats.deleted) == (1, 3, 3)
    assert queue_counts(aws, url) == (0, 0)
    assert dlq_url is not None and receive_all(aws, dlq_url) == []


def test_without_report_batch_item_failures_a_success_deletes_every_message(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-all")

    def report_everything(event: dict[str, Any], _call: int) -> dict[str, Any]:  # ignored without the flag
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    recorder = Recorder(report_everything)
    create_function(aws, role, "esm-all", recorder)
    uuid = map_disabled_then_send(aws, url, arn, "esm-all", ["x", "y"])

    aws.sqs_event_sources.drain(DRAIN)

    assert [sorted(bodies) for bodies in recorder.bodies()] == [["x", "y"]]
    assert queue_counts(aws, url) == (0, 0)
    assert aws.sqs_event_sources.stats(uuid).deleted == 2


def test_an_invalid_batch_item_failures_response_fails_the_whole_batch(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-invalid")

    def unknown_identifier(_event: dict[str, Any], call: int) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]} if call == 1 else {}

    recorder = Recorder(unknown_identifier)
    create_function(aws, role, "esm-invalid", recorder)
    uuid = map_disabled_then_send(aws, url, arn, "esm-invalid", ["p", "q"],
                                  FunctionResponseTypes=["ReportBatchItemFailures"])

    aws.sqs_event_sources.drain(DRAIN)

    assert [sorted(bodies) for bodies in recorder.bodies()] == [["p", "q"], ["p", "q"]]
    assert [o.result for o in aws.sqs_event_sources.outcomes(uuid)] == ["invalid_response", "success"]


def test_filter_criteria_deletes_unmatched_messages_without_an_invocation(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-filter")
    recorder = Recorder()
    create_function(aws, role, "esm-filter", recorder)
    uuid = map_disabled_then_send(
        aws, url, arn, "esm-filter", [json.dumps({"type": "login"}), json.dumps({"type": "noise"}), "plain text"],
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"type": ["login"]}})}]})

    aws.sqs_event_sources.drain(DRAIN)

    assert recorder.bodies() == [[json.dumps({"type": "login"})]]
    assert aws.sqs_event_sources.stats(uuid).filtered == 2
    assert queue_counts(aws, url) == (0, 0)


def test_a_mapping_on_an_alias_invokes_the_alias(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-alias")
    recorder = Recorder()
    create_function(aws, role, "esm-alias", recorder)
    lam = aws.client("lambda")
    lam.publish_version(FunctionName="esm-alias")
    lam.create_alias(FunctionName="esm-alias", Name="live", FunctionVersion="1")
    map_disabled_then_send(aws, url, arn, "esm-alias:live", ["hello"])

    aws.sqs_event_sources.drain(DRAIN)

    assert recorder.invoked_arns == [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:esm-alias:live"]


def test_deploy_creates_mappings_ip_sets_and_queue_policies_and_an_event_reaches_the_handler_through_the_queue(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "esm-deploy-dlq"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                "QueueName": "esm-deploy", "VisibilityTimeout": 360,
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3}}},
            "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": "Queue"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                    "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}}]}}},
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "esm-deploy", "Handler": "index.handler", "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]}, "Code": {"ZipFile": "def handler(e, c):\n    return None\n"}}},
            "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}, "FunctionName": {"Ref": "Function"},
                "BatchSize": 5, "MaximumBatchingWindowInSeconds": 1,
                "FunctionResponseTypes": ["ReportBatchItemFailures"], "ScalingConfig": {"MaximumConcurrency": 2},
                "Tags": [{"Key": "Capability", "Value": "test"}]}},
            "StreamMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/elsewhere",
                "FunctionName": {"Ref": "Function"}, "StartingPosition": "LATEST"}},
            "Rule": {"Type": "AWS::Events::Rule", "Properties": {
                "Name": "esm-deploy-rule", "EventPattern": {"source": ["esm.test"]},
                "Targets": [{"Id": "queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
                             "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["Dlq", "Arn"]}},
                             "RetryPolicy": {"MaximumRetryAttempts": 10}}]}},
            "IpSet": {"Type": "AWS::WAFv2::IPSet", "Properties": {
                "Name": "esm-deploy-blocked", "Scope": "REGIONAL", "IPAddressVersion": "IPV4", "Addresses": [],
                "Description": "blocked"}},
        },
        "Outputs": {
            "IpSetRef": {"Value": {"Ref": "IpSet"}},
            "IpSetId": {"Value": {"Fn::GetAtt": ["IpSet", "Id"]}},
            "IpSetArn": {"Value": {"Fn::GetAtt": ["IpSet", "Arn"]}},
            "MappingId": {"Value": {"Ref": "Mapping"}},
        },
    }
    deployment = deploy_stack(aws, template, stack_name="esm-deploy", assembly_dir=tmp_path)

    assert {r.type for r in deployment.resources.values()} >= {
        "AWS::Lambda::EventSourceMapping", "AWS::WAFv2::IPSet", "AWS::SQS::QueuePolicy", "AWS::Events::Rule"}
    skipped = {s.logical_id: s for s in deployment.skipped}
    assert "only SQS" in skipped["StreamMapping"].reason
    assert deployment.resources["Mapping"].ignored_properties == ["ScalingConfig"]
    mapping = aws.client("lambda").get_event_source_mapping(UUID=deployment.outputs["MappingId"])
    assert (mapping["BatchSize"], mapping["FunctionResponseTypes"], mapping["State"]) == (
        5, ["ReportBatchItemFailures"], "Enabled")
    name, ip_set_id, scope = deployment.outputs["IpSetRef"].split("|")
    assert (name, ip_set_id, scope) == ("esm-deploy-blocked", deployment.outputs["IpSetId"], "REGIONAL")
    ip_set = aws.client("wafv2").get_ip_set(Name=name, Scope=scope, Id=ip_set_id)["IPSet"]
    assert ip_set["ARN"] == deployment.outputs["IpSetArn"] and ip_set["Addresses"] == []
    url = deployment.physical_id("Queue")
    policy = json.loads(aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
                        ["Attributes"]["Policy"])
    assert policy["Statement"][0]["Action"] == "sqs:SendMessage"

    recorder = Recorder()
    aws.register("esm-deploy", recorder)  # observe the deployed function's invocations in-process
    aws.client("events").put_events(Entries=[{"Source": "esm.test", "DetailType": "Test", "Detail": '{"n": 1}'}])
    aws.sqs_event_sources.drain(DRAIN)

    assert len(recorder.events) == 1
    assert json.loads(recorder.events[0]["Records"][0]["body"])["detail"] == {"n": 1}
    assert queue_counts(aws, url) == (0, 0)


def test_drain_names_the_queue_that_does_not_empty(aws: EmbeddedAws, role: str) -> None:
    url, arn, _ = create_queue(aws, "esm-stuck")

    def always_fail(_event: dict[str, Any], _call: int) -> None:
        raise RuntimeError("poison")

    create_function(aws, role, "esm-stuck", Recorder(always_fail))
    uuid = map_disabled_then_send(aws, url, arn, "esm-stuck", ["poison"])
    try:
        with pytest.raises(TimeoutError, match="esm-stuck"):
            aws.sqs_event_sources.drain(1)
    finally:
        aws.client("lambda").delete_event_source_mapping(UUID=uuid)
    assert aws.sqs_event_sources.stats(uuid).failures >= 1
    assert aws.sqs_event_sources.wait_idle(5)  # the deleted mapping's queue is not watched any more
