"""Canary adapters on moto (in-process): alias weights, one GetMetricData request, alarms, the lock.

What moto 5.2 lacks, tested on fakes instead (tests/unit/test_canary_workflow.py): UpdateAlias neither
changes the RevisionId nor checks the one it is given (no optimistic concurrency), and Invoke needs
Docker (without it every invoke answers ``FunctionError: Handled``), so the smoke invoker's parsing is
proven here with botocore's Stubber.
"""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from churnguard_ops.canary.adapters import (
    CloudWatchAlarmStates,
    CloudWatchMetricsSource,
    DynamoReleaseLock,
    LambdaAliasShifter,
    LambdaSmokeInvoker,
)
from churnguard_ops.canary.errors import MetricsUnavailable, ReleaseInProgress
from churnguard_ops.canary.metrics import build_queries, parse_results, window
from churnguard_ops.canary.model import BusinessMetric
from churnguard_ops.canary.ports import LockEntry
from churnguard_ops.core import aws
from churnguard_ops.core.errors import NotFound
from tests.integration.conftest import REGION

pytestmark = pytest.mark.integration
FN, ALIAS = "churnguard-api", "live"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'statusCode': 200}\n")
    return buffer.getvalue()


@pytest.fixture
def function(moto_aws: None) -> None:
    """churnguard-api with versions 1 and 2 published, alias ``live`` on version 1."""
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="api", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(FunctionName=FN, Runtime="python3.12", Role=role, Handler="app.handler",
                           Code={"ZipFile": _zip()})
    client.publish_version(FunctionName=FN)
    client.update_function_code(FunctionName=FN, ZipFile=_zip())
    client.publish_version(FunctionName=FN)
    client.create_alias(FunctionName=FN, Name=ALIAS, FunctionVersion="1")


def _alias() -> dict[str, Any]:
    return boto3.client("lambda", region_name=REGION).get_alias(FunctionName=FN, Name=ALIAS)


def test_shift_sets_the_weight_of_the_new_version_beside_the_stable_one(function: None) -> None:
    shifter = LambdaAliasShifter(REGION)
    before = shifter.routing(FN, ALIAS)
    assert (before.version, before.weights, before.split) == ("1", {}, False)
    shifter.shift(FN, ALIAS, "1", "2", 10, revision_id=before.revision_id)
    assert _alias()["FunctionVersion"] == "1"
    assert _alias()["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    moved = shifter.shift(FN, ALIAS, "1", "2", 75)
    assert (moved.version, moved.weights) == ("1", {"2": 75.0})


def test_rollback_restores_all_traffic_to_stable_with_no_extra_weights(function: None) -> None:
    shifter = LambdaAliasShifter(REGION)
    shifter.shift(FN, ALIAS, "1", "2", 50)
    shifter.rollback(FN, ALIAS, "1")
    alias = _alias()
    assert alias["FunctionVersion"] == "1"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
    assert shifter.routing(FN, ALIAS).split is False


def test_promote_points_the_alias_at_the_new_version_with_no_extra_weights(function: None) -> None:
    shifter = LambdaAliasShifter(REGION)
    shifter.shift(FN, ALIAS, "1", "2", 75)
    promoted = shifter.promote(FN, ALIAS, "2")
    alias = _alias()
    assert alias["FunctionVersion"] == "2" and promoted.version == "2"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_published_versions_and_unknown_aliases(function: None) -> None:
    shifter = LambdaAliasShifter(REGION)
    assert shifter.has_version(FN, "2") and not shifter.has_version(FN, "7")
    with pytest.raises(NotFound, match="read alias churnguard-api:prod"):
        shifter.routing(FN, "prod")


def test_a_weight_of_100_is_a_promotion_not_a_split(function: None) -> None:
    with pytest.raises(ValueError, match="100 is a promotion"):
        LambdaAliasShifter(REGION).shift(FN, ALIAS, "1", "2", 100)


# -- CloudWatch ---------------------------------------------------------------------------------
def _count_calls(client: Any, operation: str) -> list[dict]:
    calls: list[dict] = []
    client.meta.events.register(f"provide-client-params.*.{operation}", lambda params, **_: calls.append(params))
    return calls


def test_one_get_metric_data_request_reads_every_metric_of_both_versions(moto_aws: None) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for version, invocations, errors in (("2", 120, 2), ("1", 900, 3)):
        dims = [{"Name": "FunctionName", "Value": FN}, {"Name": "Resource", "Value": f"{FN}:{ALIAS}"},
                {"Name": "ExecutedVersion", "Value": version}]
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": "Invocations", "Dimensions": dims, "Value": invocations, "Timestamp": now - timedelta(
                minutes=3)},
            {"MetricName": "Errors", "Dimensions": dims, "Value": errors, "Timestamp": now - timedelta(minutes=3)}])
        cloudwatch.put_metric_data(Namespace="ChurnGuard/Api", MetricData=[
            {"MetricName": "PredictionsServed", "Value": invocations - errors, "Timestamp": now - timedelta(minutes=3),
             "Dimensions": [{"Name": "FunctionName", "Value": FN}, {"Name": "Version", "Value": version}]}])
    business = BusinessMetric(namespace="ChurnGuard/Api", name="PredictionsServed", dimensions={"FunctionName": FN})
    start, end, period = window(now - timedelta(minutes=10), now)
    queries = build_queries(FN, ALIAS, "2", "1", business, period)
    calls = _count_calls(aws.client("cloudwatch", REGION), "GetMetricData")
    values = CloudWatchMetricsSource(REGION).fetch(queries, start, end)
    assert len(calls) == 1 and len(calls[0]["MetricDataQueries"]) == 8
    samples = parse_results(values, "2", "1", business)
    assert (samples.canary.invocations, samples.canary.errors, samples.canary.business) == (120, 2, 118)
    assert (samples.baseline.invocations, samples.baseline.errors) == (900, 3)


def test_metrics_nobody_published_are_zero_samples(moto_aws: None) -> None:
    now = datetime.now(timezone.utc)
    start, end, period = window(now - timedelta(minutes=5), now)
    values = CloudWatchMetricsSource(REGION).fetch(build_queries(FN, ALIAS, "2", "1", None, period), start, end)
    samples = parse_results(values, "2", "1", None)
    assert (samples.canary.invocations, samples.canary.p99_ms, samples.baseline.invocations) == (0, None, 0)


def test_next_token_pages_are_followed_and_a_failure_is_metrics_unavailable(moto_aws: None) -> None:
    client = aws.client("cloudwatch", REGION)
    start = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
    queries = build_queries(FN, ALIAS, "2", "1", None, 60)
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "invocations_canary", "Values": [50.0], "Timestamps": [start], "StatusCode": "PartialData"}],
            "NextToken": "page-2"})
        stub.add_response("get_metric_data", {"MetricDataResults": [
            {"Id": "invocations_canary", "Values": [25.0], "Timestamps": [start], "StatusCode": "Complete"}]},
            expected_params={"MetricDataQueries": queries, "StartTime": start, "EndTime": start + timedelta(minutes=1),
                             "ScanBy": "TimestampAscending", "NextToken": "page-2"})
        values = CloudWatchMetricsSource(REGION).fetch(queries, start, start + timedelta(minutes=1))
        assert values["invocations_canary"] == [50.0, 25.0]
        stub.add_client_error("get_metric_data", "InternalServiceError", http_status_code=500)
        with pytest.raises(MetricsUnavailable, match="InternalServiceError"):
            CloudWatchMetricsSource(REGION).fetch(queries, start, start + timedelta(minutes=1))


def test_alarm_states_of_named_alarms_missing_ones_absent(moto_aws: None) -> None:
    boto3.client("cloudwatch", region_name=REGION).put_metric_alarm(
        AlarmName="api-errors", MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName="api-errors", StateValue="ALARM", StateReason="test")
    states = CloudWatchAlarmStates(REGION).states(["api-errors", "missing"])
    assert list(states) == ["api-errors"] and states["api-errors"].value == "ALARM"


# -- smoke invokes (moto's Invoke needs Docker: Stubber) -----------------------------------------
def _payload(text: str) -> StreamingBody:
    return StreamingBody(io.BytesIO(text.encode()), len(text))


def test_smoke_invoker_calls_the_version_and_reads_function_error(moto_aws: None) -> None:
    client = aws.client("lambda", REGION)
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 200, "Payload": _payload('{"statusCode": 200}')},
                          expected_params={"FunctionName": FN, "Qualifier": "2", "InvocationType": "RequestResponse",
                                           "Payload": b'{"case": "ok"}'})
        stub.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                     "Payload": _payload('{"errorMessage": "boom"}')})
        ok = LambdaSmokeInvoker(REGION).invoke(FN, "2", {"case": "ok"})
        failed = LambdaSmokeInvoker(REGION).invoke(FN, "2", {})
    assert (ok.status, ok.body) == ("success", '{"statusCode": 200}')
    assert (failed.status, failed.function_error) == ("error", "Unhandled")


# -- the lock -----------------------------------------------------------------------------------
@pytest.fixture
def lock_table(moto_aws: None) -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="canary-locks", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "lock_key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_key", "AttributeType": "S"}])
    return "canary-locks"


def _entry(release_id: str, now: datetime, hours: float = 2) -> LockEntry:
    return LockEntry(key=f"{FN}:{ALIAS}", release_id=release_id, new_version="2", stable_version="1", started_at=now,
                     expires_at=now + timedelta(hours=hours), alarms=("api-errors",), execution_id="arn:exec:1")


def test_one_release_per_alias_the_second_refused_naming_the_first(lock_table: str) -> None:
    lock = DynamoReleaseLock(lock_table, REGION)
    now = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
    lock.acquire(_entry("r1", now), now)
    lock.acquire(_entry("r1", now), now)  # a retried validate
    with pytest.raises(ReleaseInProgress, match=r"churnguard-api:live is being released by r1 \(version 1 -> 2.*"
                                                r"execution arn:exec:1"):
        lock.acquire(_entry("r2", now), now)
    holder = lock.holder(f"{FN}:{ALIAS}")
    assert holder is not None and (holder.release_id, holder.alarms, holder.status) == ("r1", ("api-errors",),
                                                                                        "running")
    assert lock.mark_aborting(f"{FN}:{ALIAS}", "r1") and not lock.mark_aborting(f"{FN}:{ALIAS}", "r2")
    assert [e.status for e in lock.running()] == ["aborting"]
    lock.release(f"{FN}:{ALIAS}", "r2")  # not r2's: nothing happens
    assert lock.holder(f"{FN}:{ALIAS}") is not None
    lock.release(f"{FN}:{ALIAS}", "r1")
    assert lock.holder(f"{FN}:{ALIAS}") is None
    lock.acquire(_entry("r2", now), now)


def test_an_expired_lock_is_taken_over(lock_table: str) -> None:
    lock = DynamoReleaseLock(lock_table, REGION)
    then = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
    lock.acquire(_entry("crashed", then, hours=1), then)
    later = then + timedelta(hours=2)
    lock.acquire(_entry("r2", later), later)
    assert lock.holder(f"{FN}:{ALIAS}").release_id == "r2"  # type: ignore[union-attr]
