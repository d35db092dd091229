"""Inspector2 on the embedded AWS, and the vulnerability handlers end to end on it (one embedded AWS for the
module; each test has its own functions, findings and ledger table).

The embedded Inspector2 serves ListFindings (filters, sort, pages) and ListCoverage from seeded records; the
handlers run in-process behind Lambda Invoke, and the "Inspector2 Finding" event a seeded change emits is routed
by the embedded EventBridge to the ``on_finding`` function.
"""
from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from churnguard_ops.core import aws as core_aws
from churnguard_ops.core import contracts
from churnguard_ops.vulns.adapters import S3ExceptionsFile
from churnguard_ops.vulns.adapters_inspector import NOT_IN_COVERAGE, InspectorSource
from churnguard_ops.vulns.adapters_ledger import DynamoLedger
from churnguard_ops.vulns.runs import VulnRuns
from churnguard_ops.vulns.settings import VulnsSettings
from churnguard_ops.vulns.wiring import normalizer
from opsctl.local.aws import EmbeddedAws
from opsctl.local.inspector2 import finding_event
from tests.events import load_event
from tests.integration.conftest import create_vuln_ledger_table

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        core_aws.reset_clients()  # clients made before point elsewhere
        embedded.reset()
        yield embedded
    core_aws.reset_clients()


@pytest.fixture
def prefix(aws: EmbeddedAws) -> str:
    """Function names of this test only (the module shares one embedded AWS)."""
    return f"cg{uuid.uuid4().hex[:6]}-"


@pytest.fixture
def table(aws: EmbeddedAws) -> str:
    return create_vuln_ledger_table(aws.client("dynamodb"), f"vulns-{uuid.uuid4().hex[:8]}")


def lambda_finding(n: int, function: str, *, status: str = "ACTIVE", updated: datetime = T0,
                   layer: str | None = None, vuln: str | None = None) -> dict[str, Any]:
    """A Lambda package vulnerability finding as ListFindings returns it."""
    package: dict[str, Any] = {"name": "urllib3", "version": "1.26.18", "fixedInVersion": "1.26.19",
                               "packageManager": "PYTHONPKG", "epoch": 0}
    if layer:
        package["sourceLambdaLayerArn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{layer}:7"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:$LATEST"
    vuln = vuln or f"CVE-2026-{1000 + n}"
    return {
        "findingArn": f"arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{uuid.uuid4().hex}",
        "type": "PACKAGE_VULNERABILITY", "severity": "HIGH", "status": status, "title": f"{vuln} - urllib3",
        "firstObservedAt": T0 - timedelta(days=1), "lastObservedAt": T0 - timedelta(days=1), "updatedAt": updated,
        "inspectorScore": 7.5,
        "resources": [{"type": "AWS_LAMBDA_FUNCTION", "id": arn, "partition": "aws", "region": REGION,
                       "details": {"awsLambdaFunction": {"functionName": function, "runtime": "PYTHON_3_13"}}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": vuln, "source": "NVD", "vulnerablePackages": [package],
                                        "cvss": [{"baseScore": 7.5, "source": "NVD", "version": "3.1",
                                                  "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]},
    }


def coverage(function: str, reason: str = "SUCCESSFUL", code: str = "ACTIVE", scan: str = "PACKAGE") -> dict[str, Any]:
    return {"resourceId": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}", "resourceType": LAMBDA,
            "scanType": scan, "scanStatus": {"statusCode": code, "reason": reason},
            "resourceMetadata": {"lambdaFunction": {"functionName": function, "runtime": "PYTHON_3_13"}}}


LAMBDA = "AWS_LAMBDA_FUNCTION"


def create_functions(aws: EmbeddedAws, names: list[str]) -> None:
    """Functions in the embedded Lambda control plane (ListFunctions is how ours are found)."""
    iam = aws.client("iam")
    role = f"vulns-test-{uuid.uuid4().hex[:6]}"
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))[
        "Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    for name in names:
        aws.client("lambda").create_function(FunctionName=name, Runtime="python3.13", Role=arn, Handler="app.handler",
                                             Code={"ZipFile": buffer.getvalue()})


def source(prefix: str, page_size: int = 100) -> InspectorSource:
    config = VulnsSettings(ledger_table="unused", bucket="unused", function_prefix=prefix)
    return InspectorSource(normalizer(config), function_prefix=prefix, region=REGION, page_size=page_size,
                           overlap=timedelta(minutes=5))


# -- the embedded Inspector2 and the source adapter --------------------------------------------------------------


def test_list_findings_of_our_functions_arrive_in_three_pages_of_two(aws: EmbeddedAws, prefix: str) -> None:
    aws.inspector2.seed_findings([lambda_finding(n, f"{prefix}fn{n}", updated=T0 + timedelta(minutes=n))
                                  for n in range(5)])
    aws.inspector2.seed_findings([lambda_finding(9, "someone-elses-function")])  # not ours: filtered out by prefix
    before = aws.inspector2.requests["findings"]
    raw = source(prefix, page_size=2).raw_findings(None)
    assert aws.inspector2.requests["findings"] - before == 3  # 2 + 2 + 1
    assert [f["resources"][0]["details"]["awsLambdaFunction"]["functionName"] for f in raw] == [
        f"{prefix}fn{n}" for n in range(5)]


def test_a_filter_the_embedded_inspector_does_not_serve_is_refused_naming_it(aws: EmbeddedAws) -> None:
    with pytest.raises(ClientError, match="filterCriteria.ec2InstanceImageId") as failure:
        aws.client("inspector2").list_findings(
            filterCriteria={"ec2InstanceImageId": [{"comparison": "EQUALS", "value": "ami-1"}]})
    assert failure.value.response["Error"]["Code"] == "ValidationException"


def test_a_page_token_of_another_query_is_refused(aws: EmbeddedAws, prefix: str) -> None:
    aws.inspector2.seed_findings([lambda_finding(n, f"{prefix}fn{n}") for n in range(3)])
    client = aws.client("inspector2")
    mine = {"lambdaFunctionName": [{"comparison": "PREFIX", "value": prefix}]}
    token = client.list_findings(maxResults=1, filterCriteria=mine)["nextToken"]
    with pytest.raises(ClientError, match="another query"):
        client.list_findings(maxResults=1, nextToken=token, filterCriteria={})


def test_coverage_reports_each_function_inspector_does_not_scan_and_why(aws: EmbeddedAws, prefix: str) -> None:
    names = [f"{prefix}scanned", f"{prefix}idle", f"{prefix}encrypted", f"{prefix}unknown-to-inspector"]
    create_functions(aws, names)
    aws.inspector2.seed_coverage([
        coverage(names[0]), coverage(names[0], scan="CODE"),
        coverage(names[1], "STALE_INVENTORY", "INACTIVE"),
        coverage(names[2], "ACCESS_DENIED_TO_ENCRYPTION_KEY", "INACTIVE"),
    ])
    polled = source(prefix).poll(None)
    gaps = {gap.resource: gap.reason for gap in polled.not_checked}
    assert set(gaps) == {f"function:{n}" for n in names[1:]}  # the scanned one is not a gap
    assert gaps[f"function:{names[1]}"].startswith("not scanned (package scan, STALE_INVENTORY): not invoked or "
                                                   "updated for 90 days")
    assert "customer managed KMS key" in gaps[f"function:{names[2]}"]
    assert gaps[f"function:{names[3]}"] == NOT_IN_COVERAGE


def test_a_finding_closed_between_two_polls_is_seen_closed_and_the_ledger_marks_it_fixed(
        aws: EmbeddedAws, prefix: str, table: str) -> None:
    [kept, closed] = aws.inspector2.seed_findings([lambda_finding(1, f"{prefix}a"), lambda_finding(2, f"{prefix}b")])
    store = DynamoLedger(table, REGION)
    now = [T0 + timedelta(hours=1)]
    runs = VulnRuns(store, policy=VulnsSettings(ledger_table=table, bucket="b").sla_policy(),
                    exceptions=S3ExceptionsFile(f"no-bucket-{uuid.uuid4().hex[:6]}", region=REGION).load,
                    clock=lambda: now[0], inspector=source(prefix))
    first = runs.poll()
    assert first.created == 2 and first.watermark == T0
    assert {e.state for e in store.query()} == {"open"}

    # Fixed by a deployment: Inspector closes it; lastObservedAt stays where it was (a poller on it misses this).
    aws.inspector2.update_finding(closed, status="CLOSED", updated_at=T0 + timedelta(minutes=90))
    now[0] = T0 + timedelta(hours=2)
    second = runs.poll()
    # The kept finding (updatedAt at the old watermark) is read again within the overlap: no change for it.
    assert second.findings == 2 and second.transitions == {"fixed": 1}
    assert second.watermark == T0 + timedelta(minutes=90) == store.watermark("inspector")
    states = {e.finding.source_ids["inspector"]: e.state for e in store.query()}
    assert states == {kept: "open", closed: "fixed"}
    fixed = next(e for e in store.query(states=["fixed"]))
    assert fixed.history[-1].why == "closed by inspector"


# -- the handlers, end to end ------------------------------------------------------------------------------------


@pytest.fixture
def deployed(aws: EmbeddedAws, prefix: str, table: str) -> dict[str, Any]:
    """The four handlers registered as functions, with their bucket, topic (read through a queue) and table."""
    bucket = f"ops-{uuid.uuid4().hex[:8]}"
    aws.client("s3").create_bucket(Bucket=bucket)
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName=f"ops-topic-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = aws.client("sns").create_topic(Name=f"ops-{uuid.uuid4().hex[:6]}")["TopicArn"]
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                                Attributes={"RawMessageDelivery": "true"})
    env = {"POWERTOOLS_SERVICE_NAME": "vulns", "POWERTOOLS_METRICS_NAMESPACE": "ChurnGuardOps",
           "POWERTOOLS_TRACE_DISABLED": "true", "VULNS_LEDGER_TABLE": table, "VULNS_BUCKET": bucket,
           "VULNS_TOPIC_ARN": topic, "VULNS_FUNCTION_PREFIX": prefix}
    names = {}
    for handler in ("poll", "on_finding", "ingest_build", "report"):
        names[handler] = f"{prefix}vulns-{handler}"
        aws.register(names[handler], f"app.{handler}", code_dir=ROOT / "functions" / "vulns", environment=env)
    return {"bucket": bucket, "queue": queue, "table": table, "names": names}


def invoke(aws: EmbeddedAws, name: str, event: dict[str, Any]) -> dict[str, Any]:
    result = aws.lambdas.invoke(name, event)
    assert result.function_error is None, result.payload
    payload: dict[str, Any] = result.payload
    return payload


def test_the_handlers_poll_take_an_event_ingest_a_build_report_and_report_weekly(
        aws: EmbeddedAws, prefix: str, deployed: dict[str, Any]) -> None:
    s3, names = aws.client("s3"), deployed["names"]
    create_functions(aws, [f"{prefix}api", f"{prefix}idle"])
    aws.inspector2.seed_coverage([coverage(f"{prefix}api"), coverage(f"{prefix}idle", "STALE_INVENTORY", "INACTIVE")])
    # The same layer CVE on two functions: one ledger entry, on the layer.
    aws.inspector2.seed_findings([
        lambda_finding(1, f"{prefix}api", layer="churnguard-ops-shared", vuln="CVE-2024-37891"),
        lambda_finding(2, f"{prefix}idle", layer="churnguard-ops-shared", vuln="CVE-2024-37891"),
        lambda_finding(3, f"{prefix}api", vuln="CVE-2026-3003")])

    polled = invoke(aws, names["poll"], load_event("vulns/scheduled-poll.json"))
    assert polled["created"] == 2  # the layer CVE once, the function CVE once
    assert [g["resource"] for g in polled["not_checked"]] == [f"function:{prefix}idle"]

    # pip-audit reports the same CVE (by its PYSEC id, CVE alias) on the layer: the same entry, two sources.
    pip_audit = {"dependencies": [{"name": "urllib3", "version": "1.26.18", "vulns": [
        {"id": "PYSEC-2024-60", "aliases": ["CVE-2024-37891", "GHSA-34jh-p97f-mpxf"], "fix_versions": ["1.26.19"],
         "description": "Proxy-Authorization kept on cross-origin redirects"}]}], "fixes": []}
    key = f"{contracts.VULNS_BUILD_REPORTS_PREFIX}run-1/pip-audit.json"
    s3.put_object(Bucket=deployed["bucket"], Key=key, Body=json.dumps(
        {"source": "pip-audit", "scanned_at": datetime.now(timezone.utc).isoformat(), "report": pip_audit}).encode())
    created = load_event("vulns/build-report-created.json")
    created["detail"]["bucket"]["name"] = deployed["bucket"]
    created["detail"]["object"]["key"] = key
    ingested = invoke(aws, names["ingest_build"], created)
    assert ingested["created"] == 0 and ingested["updated"] == 1
    store = DynamoLedger(deployed["table"], REGION)
    [layer] = store.query(resource=contracts.VULN_LAYER_RESOURCE)
    assert layer.finding.vuln_id == "CVE-2024-37891" and layer.finding.sources == ("inspector", "pip-audit")

    # An Inspector event for a new finding, routed by the embedded EventBridge to on_finding.
    aws.client("events").put_rule(Name=f"{prefix}inspector", EventPattern=json.dumps(
        {"source": [contracts.INSPECTOR_EVENT_SOURCE], "detail-type": [contracts.INSPECTOR_FINDING_DETAIL_TYPE],
         "resources": [{"prefix": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{prefix}"}]}))
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{names['on_finding']}"
    aws.client("events").put_targets(Rule=f"{prefix}inspector", Targets=[{"Id": "on-finding", "Arn": function_arn}])
    aws.inspector2.seed_findings([lambda_finding(4, f"{prefix}api", vuln="CVE-2026-4004")])
    assert aws.lambda_dispatch is not None
    aws.lambda_dispatch.drain()
    assert any(e.finding.vuln_id == "CVE-2026-4004" and e.state == "open" for e in store.query())

    weekly = invoke(aws, names["report"], load_event("vulns/scheduled-report.json"))
    assert weekly["open_by_severity"] == {"high": 3}
    assert set(weekly["locations"]) == {"report.json", "report.md", "report.sarif"}
    report_key = weekly["locations"]["report.json"].removeprefix(f"s3://{deployed['bucket']}/")
    assert report_key.startswith(contracts.VULNS_REPORTS_PREFIX)
    report = json.loads(s3.get_object(Bucket=deployed["bucket"], Key=report_key)["Body"].read())
    assert {f["vuln_id"] for f in report["findings"]} == {"CVE-2024-37891", "CVE-2026-3003", "CVE-2026-4004"}
    sarif_key = weekly["locations"]["report.sarif"].removeprefix(f"s3://{deployed['bucket']}/")
    assert json.loads(s3.get_object(Bucket=deployed["bucket"], Key=sarif_key)["Body"].read())["version"] == "2.1.0"
    messages = aws.client("sqs").receive_message(QueueUrl=deployed["queue"], MaxNumberOfMessages=10)["Messages"]
    assert any("SLA breaches: 0" in m["Body"] and "report.md" in m["Body"] for m in messages)


def test_a_build_report_for_another_bucket_is_refused_naming_the_field(aws: EmbeddedAws,
                                                                       deployed: dict[str, Any]) -> None:
    created = load_event("vulns/build-report-created.json")  # the sample's bucket is not this test's
    result = aws.lambdas.invoke(deployed["names"]["ingest_build"], created)
    assert result.function_error is not None
    assert "detail.bucket.name" in json.dumps(result.payload)


def test_an_active_event_delivered_after_its_finding_closed_does_not_reopen_it(
        aws: EmbeddedAws, prefix: str, deployed: dict[str, Any]) -> None:
    names = deployed["names"]
    [arn] = aws.inspector2.seed_findings([lambda_finding(1, f"{prefix}api")])
    stale = finding_event(aws.inspector2.findings(REGION)[[f["findingArn"] for f in aws.inspector2.findings(
        REGION)].index(arn)])  # the ACTIVE event, delivered late
    invoke(aws, names["poll"], load_event("vulns/scheduled-poll.json"))
    aws.inspector2.update_finding(arn, status="CLOSED", updated_at=datetime.now(timezone.utc))
    assert invoke(aws, names["poll"], load_event("vulns/scheduled-poll.json"))["transitions"] == {"fixed": 1}
    late = invoke(aws, names["on_finding"], stale)
    assert late["transitions"] == {}  # Inspector's current state (CLOSED) applied, not the stale event's ACTIVE
    [entry] = DynamoLedger(deployed["table"], REGION).query()
    assert entry.state == "fixed"
