"""S3 EventBridge notifications in the embedded AWS (``opsctl.local.s3_events``): an object created in a bucket
with EventBridge notifications on reaches the rules' Lambda targets once, as S3 shapes "Object Created"; and the
deployer's pieces the vulns stack needs (the bucket's EventBridgeConfiguration, CDK's BucketDeployment).

One embedded AWS for the module; each test uses its own bucket.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churnguard_ops.core.contracts import VULNS_BUILD_REPORTS_PREFIX
from churnguard_ops.vulns.events import BuildReportCreated
from opsctl.local.aws import EmbeddedAws
from opsctl.local.deploy import deploy_stack

pytestmark = pytest.mark.integration

REGION = "us-east-1"
DRAIN = 30  # seconds: a bound for a loaded machine; drain returns as soon as the invocations are done


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        with self._lock:
            self.events.append(event)


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        embedded.reset()
        yield embedded


def _bucket_with_eventbridge(aws: EmbeddedAws, name: str, tmp_path: Path, *, enabled: bool = True) -> None:
    """The bucket as the foundation's template declares it, through the local deployer."""
    props: dict[str, Any] = {"BucketName": name}
    if enabled:
        props["NotificationConfiguration"] = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    deploy_stack(aws, {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": props}}},
                 stack_name=f"s3-events-{name}", assembly_dir=tmp_path)


def _build_report_rule(aws: EmbeddedAws, bucket: str) -> Recorder:
    """The vulns stack's rule (bucket name and key prefix) with a recording Lambda target."""
    recorder = Recorder()
    function = aws.register(f"ingest-{bucket}", recorder)
    events = aws.client("events")
    events.put_rule(Name=f"build-report-{bucket}", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": VULNS_BUILD_REPORTS_PREFIX}]}}}))
    events.put_targets(Rule=f"build-report-{bucket}", Targets=[{"Id": "ingest", "Arn": function.arn}])
    return recorder


def _drain(aws: EmbeddedAws) -> None:
    assert aws.lambda_dispatch is not None
    aws.lambda_dispatch.drain(DRAIN)


def test_build_report_put_under_the_prefix_reaches_the_rule_target_once_as_s3_shapes_it(aws, tmp_path):
    bucket = "ops-reports"
    _bucket_with_eventbridge(aws, bucket, tmp_path)
    recorder = _build_report_rule(aws, bucket)
    s3 = aws.client("s3")
    key = f"{VULNS_BUILD_REPORTS_PREFIX}2026-11-30T0912Z-4b1c9e2/pip-audit.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"dependencies": []}')
    s3.put_object(Bucket=bucket, Key="vulns/reports/report.json", Body=b"{}")  # outside the prefix
    _drain(aws)

    assert len(recorder.events) == 1
    event = recorder.events[0]
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.s3", "Object Created", [f"arn:aws:s3:::{bucket}"])
    assert event["detail"]["object"]["key"] == key
    assert event["detail"]["object"]["size"] == len(b'{"dependencies": []}')
    assert event["detail"]["reason"] == "PutObject"
    parsed = BuildReportCreated.model_validate(event)  # what ingest_build parses
    assert (parsed.bucket, parsed.report_source, parsed.run_id) == (bucket, "pip-audit", "2026-11-30T0912Z-4b1c9e2")


def test_notification_configuration_answers_eventbridge_on_only_for_the_bucket_that_turned_it_on(aws, tmp_path):
    _bucket_with_eventbridge(aws, "with-eventbridge", tmp_path)
    _bucket_with_eventbridge(aws, "without-eventbridge", tmp_path, enabled=False)
    s3 = aws.client("s3")

    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket="with-eventbridge")
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="without-eventbridge")


def test_bucket_without_eventbridge_notifications_emits_nothing(aws, tmp_path):
    bucket = "quiet-bucket"
    _bucket_with_eventbridge(aws, bucket, tmp_path, enabled=False)
    recorder = _build_report_rule(aws, bucket)
    aws.client("s3").put_object(Bucket=bucket, Key=f"{VULNS_BUILD_REPORTS_PREFIX}run/bandit.json", Body=b"{}")
    _drain(aws)

    assert recorder.events == []


def test_turning_eventbridge_off_again_stops_the_events(aws, tmp_path):
    bucket = "switched-off"
    _bucket_with_eventbridge(aws, bucket, tmp_path)
    recorder = _build_report_rule(aws, bucket)
    s3 = aws.client("s3")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    s3.put_object(Bucket=bucket, Key=f"{VULNS_BUILD_REPORTS_PREFIX}run/bandit.json", Body=b"{}")
    _drain(aws)

    assert recorder.events == []
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_copy_and_multipart_upload_are_object_created_with_their_reason(aws, tmp_path):
    bucket = "copies"
    _bucket_with_eventbridge(aws, bucket, tmp_path)
    recorder = _build_report_rule(aws, bucket)
    s3 = aws.client("s3")
    s3.put_object(Bucket=bucket, Key="staging/cfn-lint.json", Body=b"[]")
    s3.copy_object(Bucket=bucket, Key=f"{VULNS_BUILD_REPORTS_PREFIX}run/cfn-lint.json",
                   CopySource={"Bucket": bucket, "Key": "staging/cfn-lint.json"})
    key = f"{VULNS_BUILD_REPORTS_PREFIX}run/cdk-nag.json"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"{}")
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    _drain(aws)

    reasons = sorted((e["detail"]["object"]["key"], e["detail"]["reason"]) for e in recorder.events)
    assert reasons == [(key, "CompleteMultipartUpload"),
                       (f"{VULNS_BUILD_REPORTS_PREFIX}run/cfn-lint.json", "CopyObject")]


def test_bucket_deployment_puts_its_source_files_under_the_destination_prefix(aws, tmp_path):
    bucket = "deployed-to"
    _bucket_with_eventbridge(aws, bucket, tmp_path)
    source = tmp_path / "asset.abc123"
    source.mkdir()
    (source / "vulnerability-exceptions.toml").write_text("# no exceptions\n")
    (tmp_path / "Stack.assets.json").write_text(json.dumps({"files": {"abc123": {
        "source": {"path": "asset.abc123", "packaging": "zip"},
        "destinations": {"current": {"objectKey": "abc123.zip"}}}}}))
    deployment = deploy_stack(aws, {"Resources": {"Deploy": {"Type": "Custom::CDKBucketDeployment", "Properties": {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:handler",
        "SourceBucketNames": ["cdk-assets"], "SourceObjectKeys": ["abc123.zip"], "SourceMarkers": [{}],
        "DestinationBucketName": bucket, "DestinationBucketKeyPrefix": "vulns/", "Prune": False,
        "RetainOnDelete": True}}}}, stack_name="bucket-deployment", assembly_dir=tmp_path)

    body = aws.client("s3").get_object(Bucket=bucket, Key="vulns/vulnerability-exceptions.toml")["Body"].read()
    assert body == b"# no exceptions\n"
    assert "Deploy" in deployment.resources
