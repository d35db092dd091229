"""What a canary release needs from the embedded AWS: alias routing with the executed version,
AWS/Lambda metrics per invocation, percentile statistics, EventBridge routing (alarm state changes
included), the sample API and its traffic generator.

One embedded AWS for the module (starting one costs seconds); each test uses its own names.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opsctl.local.aws import EmbeddedAws
from opsctl.local.deploy import deploy_stack
from opsctl.local.eventbridge_routes import render_input
from opsctl.local.lambda_versions import pick_version
from opsctl.local.sample_api import API_NAMESPACE, SampleApi
from opsctl.local.traffic import TrafficGenerator

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(region=REGION) as embedded:
        embedded.reset()
        yield embedded


@pytest.fixture(scope="module")
def role(aws: EmbeddedAws) -> str:
    return aws.client("iam").create_role(RoleName="canary-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README.txt", "in-process")
    return buf.getvalue()


def create_function(aws: EmbeddedAws, role: str, name: str, handler: Any, environment: dict[str, str]) -> None:
    """A function in the control plane (moto) and in the in-process registry, as deploy.py makes them."""
    aws.client("lambda").create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                                         Code={"ZipFile": _zip()}, Environment={"Variables": environment})
    aws.register(name, handler, environment=environment)


def echo_color(event: Any, context: Any) -> dict[str, Any]:
    import os

    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"color": os.environ["COLOR"], "version": context.function_version,
            "arn": context.invoked_function_arn, "env_version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"]}


def two_versions(aws: EmbeddedAws, role: str, name: str) -> None:
    """v1 with COLOR=blue, v2 with COLOR=green, $LATEST then green too."""
    lam = aws.client("lambda")
    create_function(aws, role, name, echo_color, {"COLOR": "blue"})
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOR": "green"}})
    assert lam.publish_version(FunctionName=name)["Version"] == "2"


def metric_sum(aws: EmbeddedAws, namespace: str, metric: str, dimensions: dict[str, str], stat: str = "Sum",
               minutes: int = 10) -> float:
    now = dt.datetime.now(dt.timezone.utc)
    result = aws.client("cloudwatch").get_metric_data(
        StartTime=now - dt.timedelta(minutes=minutes), EndTime=now + dt.timedelta(minutes=1),
        MetricDataQueries=[{"Id": "m", "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]},
            "Period": 3600, "Stat": stat}}],
    )["MetricDataResults"][0]
    return sum(result["Values"])


def poll(condition: Any, attempts: int = 400, pause: float = 0.05) -> Any:
    """Wait for an asynchronous delivery (a generous bound, not a timing assertion)."""
    for _ in range(attempts):
        value = condition()
        if value:
            return value
        time.sleep(pause)
    return condition()


# --------------------------------------------------------------------------------------
# 1. Alias routing with the executed version
# --------------------------------------------------------------------------------------
def test_alias_with_weights_routes_by_weight_and_reports_executed_version_with_its_configuration(
    aws: EmbeddedAws, role: str
) -> None:
    two_versions(aws, role, "routed")
    aws.client("lambda").create_alias(FunctionName="routed", Name="live", FunctionVersion="1",
                                      RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    aws.lambda_versions.seed(7)
    lam = aws.clients("lambda", REGION)
    seen: Counter[str] = Counter()
    for _ in range(100):  # enough to tell 75/25 from 50/50 or 25/75 (binomial sd ~4.3), each one a round trip
        response = lam.invoke(FunctionName="routed:live", Payload=b"{}")
        body = json.load(response["Payload"])
        # the executed version is the one whose configuration ran
        assert body["color"] == {"1": "blue", "2": "green"}[response["ExecutedVersion"]]
        assert body["version"] == body["env_version"] == response["ExecutedVersion"]
        assert body["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:routed:live"
        seen[response["ExecutedVersion"]] += 1

    assert set(seen) == {"1", "2"}
    assert 60 <= seen["1"] <= 90, seen  # 75 % of 100 = 75; +-3.5 sd


def test_seeded_routing_repeats_and_weights_split_the_unit_interval(aws: EmbeddedAws, role: str) -> None:
    assert pick_version("1", {"2": 0.25}, 0.1) == "2"
    assert pick_version("1", {"2": 0.25}, 0.25) == "1"
    assert pick_version("1", {}, 0.0) == "1"
    two_versions(aws, role, "seeded")
    aws.client("lambda").create_alias(FunctionName="seeded", Name="live", FunctionVersion="1",
                                      RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    lam = aws.clients("lambda", REGION)

    def run() -> list[str]:
        aws.lambda_versions.seed(42)
        return [lam.invoke(FunctionName="seeded", Qualifier="live")["ExecutedVersion"] for _ in range(20)]

    assert run() == run()


def test_version_and_latest_qualifiers_run_that_version_and_unknown_alias_is_not_found(
    aws: EmbeddedAws, role: str
) -> None:
    two_versions(aws, role, "qualified")
    lam = aws.clients("lambda", REGION)

    by_version = lam.invoke(FunctionName="qualified:1")
    unqualified = lam.invoke(FunctionName="qualified")

    assert by_version["ExecutedVersion"] == "1" and json.load(by_version["Payload"])["color"] == "blue"
    assert unqualified["ExecutedVersion"] == "$LATEST" and json.load(unqualified["Payload"])["color"] == "green"
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName="qualified:nope")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_published_version_keeps_the_code_registered_when_it_was_published(aws: EmbeddedAws, role: str) -> None:
    lam = aws.client("lambda")
    create_function(aws, role, "coded", lambda e, c: "old code", {})
    lam.publish_version(FunctionName="coded")
    aws.register("coded", lambda e, c: "new code")  # a new deployment of $LATEST
    lam.update_function_configuration(FunctionName="coded", Description="new")
    lam.publish_version(FunctionName="coded")

    assert [json.load(lam.invoke(FunctionName=f"coded:{q}")["Payload"]) for q in ("1", "2", "$LATEST")] == [
        "old code", "new code", "new code"]


def test_update_alias_with_a_stale_revision_id_fails_and_each_update_makes_a_new_one(
    aws: EmbeddedAws, role: str
) -> None:
    two_versions(aws, role, "revised")
    lam = aws.client("lambda")
    first = lam.create_alias(FunctionName="revised", Name="live", FunctionVersion="1")["RevisionId"]

    second = lam.update_alias(FunctionName="revised", Name="live", RevisionId=first,
                              RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})["RevisionId"]
    with pytest.raises(ClientError) as exc:
        lam.update_alias(FunctionName="revised", Name="live", RevisionId=first, FunctionVersion="2")

    assert second != first and lam.get_alias(FunctionName="revised", Name="live")["RevisionId"] == second
    assert exc.value.response["Error"]["Code"] == "PreconditionFailedException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert lam.get_alias(FunctionName="revised", Name="live")["FunctionVersion"] == "1"


def test_reserved_concurrency_zero_throttles_and_counts_throttles(aws: EmbeddedAws, role: str) -> None:
    create_function(aws, role, "stopped", lambda e, c: "ran", {})
    lam = aws.client("lambda")
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    once = boto3.client("lambda", region_name=REGION, endpoint_url=aws.endpoint_url,
                        config=Config(retries={"max_attempts": 1}))  # a throttle is retried by default
    with pytest.raises(ClientError) as exc:
        once.invoke(FunctionName="stopped")
    assert exc.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert metric_sum(aws, "AWS/Lambda", "Throttles", {"FunctionName": "stopped"}) >= 1
    assert metric_sum(aws, "AWS/Lambda", "Invocations", {"FunctionName": "stopped"}) == 0

    lam.delete_function_concurrency(FunctionName="stopped")
    assert json.load(lam.invoke(FunctionName="stopped")["Payload"]) == "ran"


# --------------------------------------------------------------------------------------
# 2. AWS/Lambda metrics per invocation
# --------------------------------------------------------------------------------------
def test_each_invocation_publishes_invocations_errors_duration_with_executed_version(
    aws: EmbeddedAws, role: str
) -> None:
    two_versions(aws, role, "measured")
    lam = aws.clients("lambda", REGION)
    lam.create_alias(FunctionName="measured", Name="live", FunctionVersion="2")
    lam.invoke(FunctionName="measured:live", Payload=b"{}")
    lam.invoke(FunctionName="measured:live", Payload=json.dumps({"fail": True}).encode())
    lam.invoke(FunctionName="measured:live", Payload=b"{}")
    lam.invoke(FunctionName="measured:1", Payload=b"{}")
    lam.invoke(FunctionName="measured", Payload=b"{}")

    executed = {"FunctionName": "measured", "Resource": "measured:live", "ExecutedVersion": "2"}
    assert metric_sum(aws, "AWS/Lambda", "Invocations", executed) == 3
    assert metric_sum(aws, "AWS/Lambda", "Errors", executed) == 1
    assert metric_sum(aws, "AWS/Lambda", "Throttles", executed) == 0
    assert metric_sum(aws, "AWS/Lambda", "Duration", executed, stat="SampleCount") == 3
    assert metric_sum(aws, "AWS/Lambda", "Invocations", {"FunctionName": "measured", "Resource": "measured:live"}) == 3
    assert metric_sum(aws, "AWS/Lambda", "Invocations", {"FunctionName": "measured", "Resource": "measured:1"}) == 1
    assert metric_sum(aws, "AWS/Lambda", "Invocations", {"FunctionName": "measured"}) == 5
    assert metric_sum(aws, "AWS/Lambda", "Errors", {"FunctionName": "measured"}) == 1
    assert metric_sum(aws, "AWS/Lambda", "Duration", {"FunctionName": "measured"}, stat="Maximum") > 0


def test_duration_is_measured_and_timestamped_at_invocation(aws: EmbeddedAws) -> None:
    aws.register("sleepy", lambda e, c: time.sleep(0.05))
    before = dt.datetime.now(dt.timezone.utc)
    aws.clients("lambda", REGION).invoke(FunctionName="sleepy")

    stats = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Dimensions=[{"Name": "FunctionName", "Value": "sleepy"}],
        StartTime=before - dt.timedelta(minutes=1), EndTime=before + dt.timedelta(minutes=1), Period=60,
        Statistics=["Maximum", "SampleCount"])
    (point,) = stats["Datapoints"]
    assert point["SampleCount"] == 1 and point["Maximum"] >= 50


def test_emf_printed_by_the_layers_powertools_metrics_reaches_cloudwatch(aws: EmbeddedAws) -> None:
    from churnguard_ops.core.metrics import EmfMetrics

    def handler(event: Any, context: Any) -> None:
        metrics = EmfMetrics("ChurnGuard/Test")
        metrics.put("Restored", 2, "Count", {"Kind": "drill"})
        metrics.put("Restored", 3, "Count", {"Kind": "drill"})

    aws.register("emf-writer", handler)
    aws.clients("lambda", REGION).invoke(FunctionName="emf-writer")

    assert metric_sum(aws, "ChurnGuard/Test", "Restored", {"Kind": "drill"}) == 5
    assert metric_sum(aws, "ChurnGuard/Test", "Restored", {"Kind": "drill"}, stat="SampleCount") == 2


# --------------------------------------------------------------------------------------
# 3. Percentiles
# --------------------------------------------------------------------------------------
def test_get_metric_data_percentiles_are_nearest_rank_over_every_value_put(aws: EmbeddedAws) -> None:
    cw = aws.client("cloudwatch")
    now = dt.datetime.now(dt.timezone.utc)
    dims = [{"Name": "Api", "Value": "predict"}]
    # 1..100 once each, through all three forms: Value, Values, Values+Counts
    cw.put_metric_data(Namespace="Test/Latency", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now, "Value": 1.0, "Unit": "Milliseconds"}])
    cw.put_metric_data(Namespace="Test/Latency", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now, "Values": [float(v) for v in range(2, 51)],
         "Unit": "Milliseconds"}])
    cw.put_metric_data(Namespace="Test/Latency", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": now, "Values": [float(v) for v in range(51, 101)],
         "Counts": [1.0] * 50, "Unit": "Milliseconds"}])
    # same name, other dimensions: not part of the metric
    cw.put_metric_data(Namespace="Test/Latency", MetricData=[
        {"MetricName": "Latency", "Dimensions": [{"Name": "Api", "Value": "other"}], "Timestamp": now,
         "Value": 10_000.0}])

    def stat(name: str) -> dict[str, Any]:
        return {"Id": name.replace(".", "_"), "MetricStat": {
            "Metric": {"Namespace": "Test/Latency", "MetricName": "Latency", "Dimensions": dims},
            "Period": 3600, "Stat": name}}

    results = cw.get_metric_data(
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=5),
        MetricDataQueries=[stat("p50"), stat("p99"), stat("p99.9"), stat("p100"), stat("Sum")],
    )["MetricDataResults"]

    values = {r["Id"]: r["Values"] for r in results}
    assert values == {"p50": [50.0], "p99": [99.0], "p99_9": [100.0], "p100": [100.0], "Sum": [5050.0]}
    assert next(r for r in results if r["Id"] == "p99")["Label"] == "Latency p99"

    extended = cw.get_metric_statistics(
        Namespace="Test/Latency", MetricName="Latency", Dimensions=dims, Period=3600,
        StartTime=now - dt.timedelta(minutes=5), EndTime=now + dt.timedelta(minutes=5),
        ExtendedStatistics=["p90", "p99"])["Datapoints"]
    assert [p["ExtendedStatistics"] for p in extended] == [{"p90": 90.0, "p99": 99.0}]


def test_percentiles_over_the_query_protocol_too(aws: EmbeddedAws) -> None:
    import urllib.parse
    import urllib.request

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    aws.client("cloudwatch").put_metric_data(Namespace="Test/Query", MetricData=[
        {"MetricName": "Lat", "Timestamp": now, "Values": [float(v) for v in range(1, 11)]}])
    form = {
        "Action": "GetMetricData", "Version": "2010-08-01",
        "StartTime": (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "EndTime": (now + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "MetricDataQueries.member.1.Id": "p90",
        "MetricDataQueries.member.1.MetricStat.Metric.Namespace": "Test/Query",
        "MetricDataQueries.member.1.MetricStat.Metric.MetricName": "Lat",
        "MetricDataQueries.member.1.MetricStat.Period": "3600",
        "MetricDataQueries.member.1.MetricStat.Stat": "p90",
    }
    request = urllib.request.Request(aws.endpoint_url + "/", data=urllib.parse.urlencode(form).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/monitoring/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request) as response:
        body = response.read().decode()

    assert "<Id>p90</Id>" in body and "<member>9.0</member>" in body, body


# --------------------------------------------------------------------------------------
# 4. EventBridge routing and the alarm state change event
# --------------------------------------------------------------------------------------
def test_set_alarm_state_delivers_real_shaped_state_change_to_matching_rule_only(aws: EmbeddedAws) -> None:
    received: list[Any] = []
    wrongly: list[Any] = []
    aws.register("on-alarm", lambda e, c: received.append(e))
    aws.register("on-ok", lambda e, c: wrongly.append(e))
    cw, events = aws.client("cloudwatch"), aws.client("events")
    cw.put_metric_alarm(
        AlarmName="api-errors", AlarmDescription="v2 errors", Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "churnguard-api"}], Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    for rule, state, function in (("alarm-to-rollback", "ALARM", "on-alarm"), ("ok-only", "OK", "on-ok")):
        events.put_rule(Name=rule, EventPattern=json.dumps({
            "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": ["api-errors"], "state": {"value": [state]}}}))
        events.put_targets(Rule=rule, Targets=[
            {"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"}])

    before = cw.describe_alarms(AlarmNames=["api-errors"])["MetricAlarms"][0]  # moto creates alarms in OK

    cw.set_alarm_state(AlarmName="api-errors", StateValue="ALARM", StateReason="Threshold Crossed: 3 errors")

    assert poll(lambda: received), "the rule's Lambda target was not invoked"
    (event,) = received
    assert event["source"] == "aws.cloudwatch" and event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["account"] == ACCOUNT and event["region"] == REGION
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:api-errors"]
    detail = event["detail"]
    assert detail["alarmName"] == "api-errors"
    assert detail["state"]["value"] == "ALARM" and detail["state"]["reason"] == "Threshold Crossed: 3 errors"
    assert detail["previousState"]["value"] == before["StateValue"] != "ALARM"
    assert detail["previousState"]["reason"] == before["StateReason"]
    assert dt.datetime.strptime(detail["state"]["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
    metric = detail["configuration"]["metrics"][0]["metricStat"]
    assert metric == {"metric": {"namespace": "AWS/Lambda", "name": "Errors",
                                 "dimensions": {"FunctionName": "churnguard-api"}}, "period": 60, "stat": "Sum"}
    assert detail["configuration"]["description"] == "v2 errors"
    assert aws.events.deliveries_to("function:on-ok") == [] and wrongly == []

    # the same state again is no change: no second event
    cw.set_alarm_state(AlarmName="api-errors", StateValue="ALARM", StateReason="still")
    assert len(aws.events.deliveries_to("function:on-alarm")) == 1


def test_put_events_delivers_to_sqs_and_step_functions_with_input_forms(aws: EmbeddedAws) -> None:
    sqs, events = aws.client("sqs"), aws.client("events")
    queue = sqs.create_queue(QueueName="decisions")["QueueUrl"]
    machine = aws.client("stepfunctions").create_state_machine(
        name="rollback", roleArn=f"arn:aws:iam::{ACCOUNT}:role/any",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    events.create_event_bus(Name="releases")
    events.put_rule(Name="canary-decisions", EventBusName="releases",
                    EventPattern=json.dumps({"source": ["churnguard.canary"], "detail": {"action": ["rollback"]}}))
    events.put_targets(Rule="canary-decisions", EventBusName="releases", Targets=[
        {"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:decisions",
         "InputTransformer": {"InputPathsMap": {"fn": "$.detail.function", "v": "$.detail.version"},
                              "InputTemplate": '{"text": "roll back <fn> v<v>", "version": <v>, "fn": <fn>}'}},
        {"Id": "sfn", "Arn": machine, "InputPath": "$.detail"},
    ])

    answer = events.put_events(Entries=[
        {"Source": "churnguard.canary", "DetailType": "Canary Decision", "EventBusName": "releases",
         "Detail": json.dumps({"action": "rollback", "function": "churnguard-api", "version": 2})},
        {"Source": "churnguard.canary", "DetailType": "Canary Decision", "EventBusName": "releases",
         "Detail": json.dumps({"action": "promote"})},
    ])

    assert answer["FailedEntryCount"] == 0 and all("EventId" in e for e in answer["Entries"])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [
        {"text": "roll back churnguard-api v2", "version": 2, "fn": "churnguard-api"}]
    executions = aws.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1
    started = aws.client("stepfunctions").describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(started["input"]) == {"action": "rollback", "function": "churnguard-api", "version": 2}


def test_input_forms_follow_aws_semantics() -> None:
    event = {"id": "e1", "time": "2026-01-01T00:00:00Z", "detail": {"n": 3, "s": "x", "o": {"a": 1}}}
    assert render_input({"Input": '{"fixed": true}'}, event) == '{"fixed": true}'
    assert json.loads(render_input({"InputPath": "$.detail.o"}, event)) == {"a": 1}
    assert json.loads(render_input({}, event)) == event
    plain = {"InputTransformer": {"InputPathsMap": {"s": "$.detail.s", "n": "$.detail.n"},
                                  "InputTemplate": "value <s> is <n> for <aws.events.rule-name>"}}
    assert render_input(plain, event, rule_name="r") == "value x is 3 for r"
    as_json = {"InputTransformer": {"InputPathsMap": {"o": "$.detail.o", "missing": "$.detail.nope"},
                                    "InputTemplate": '{"o": <o>, "m": <missing>, "in": "<o>"}'}}
    assert json.loads(render_input(as_json, event)) == {"o": {"a": 1}, "m": None, "in": '{"a": 1}'}


def test_rules_from_a_template_route_events_to_the_in_process_function(aws: EmbeddedAws, tmp_path: Any) -> None:
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Rollback": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": "tmpl-rollback", "Handler": "index.handler", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "SEEN = []\ndef handler(e, c):\n    SEEN.append(e)\n    return len(SEEN)\n"}}},
            "V1": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Rollback"}}},
            "Live": {"Type": "AWS::Lambda::Alias", "Properties": {
                "FunctionName": {"Ref": "Rollback"}, "Name": "live",
                "FunctionVersion": {"Fn::GetAtt": ["V1", "Version"]}}},
            "Errors": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmName": "tmpl-errors", "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": "Rollback"}}], "Period": 60,
                "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}},
            "OnAlarm": {"Type": "AWS::Events::Rule", "Properties": {
                "EventPattern": {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                                 "detail": {"state": {"value": ["ALARM"]}, "alarmName": [{"prefix": "tmpl-"}]}},
                "State": "ENABLED",
                "Targets": [{"Id": "t", "Arn": {"Ref": "Live"},
                             "InputTransformer": {"InputPathsMap": {"alarm": "$.detail.alarmName"},
                                                  "InputTemplate": '{"alarm": <alarm>}'}}]}},
        },
    }
    deployment = deploy_stack(aws, template, stack_name="Tmpl", assembly_dir=tmp_path)
    rule_name = deployment.physical_id("OnAlarm")
    assert aws.client("events").describe_rule(Name=rule_name)["State"] == "ENABLED"
    assert deployment.physical_id("Live") == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tmpl-rollback:live"
    assert aws.client("lambda").get_alias(FunctionName="tmpl-rollback", Name="live")["FunctionVersion"] == "1"
    cw = aws.client("cloudwatch")
    assert cw.describe_alarms(AlarmNames=["tmpl-errors"])["MetricAlarms"][0]["MetricName"] == "Errors"

    cw.set_alarm_state(AlarmName="tmpl-errors", StateValue="ALARM", StateReason="test")

    deliveries = poll(lambda: aws.events.deliveries_to("function:tmpl-rollback:live"))
    assert [(d.input, d.error) for d in deliveries] == [('{"alarm": "tmpl-errors"}', None)]
    # the target is the alias: the invocation ran version 1 and was counted as such
    executed = {"FunctionName": "tmpl-rollback", "Resource": "tmpl-rollback:live", "ExecutedVersion": "1"}
    assert poll(lambda: metric_sum(aws, "AWS/Lambda", "Invocations", executed) == 1)


# --------------------------------------------------------------------------------------
# 5. Sample API and traffic
# --------------------------------------------------------------------------------------
def test_sample_api_candidate_with_error_rate_one_produces_errors_and_stable_serves_predictions(
    aws: EmbeddedAws,
) -> None:
    api = SampleApi.deploy(aws, error_rate=1.0, latency_ms=1, jitter_ms=0)
    assert (api.stable, api.candidate) == ("1", "2")
    api.shift(0.5)
    aws.lambda_versions.seed(3)

    traffic = TrafficGenerator(aws, api.qualified_name, rate_per_second=200, max_requests=40).start()
    stats = traffic.wait()

    assert stats.requests == 40 and stats.failed_calls == 0
    assert stats.by_version["1"] > 0 and stats.by_version["2"] > 0
    assert stats.errors_by_version == Counter({"2": stats.by_version["2"]})  # every v2 request failed
    v2 = {"FunctionName": api.name, "Resource": f"{api.name}:live", "ExecutedVersion": "2"}
    v1 = {**v2, "ExecutedVersion": "1"}
    assert metric_sum(aws, "AWS/Lambda", "Errors", v2) == stats.by_version["2"]
    assert metric_sum(aws, "AWS/Lambda", "Errors", v1) == 0
    served = {"FunctionName": api.name, "Version": "1"}
    assert metric_sum(aws, API_NAMESPACE, "PredictionsServed", served) == stats.by_version["1"]
    assert metric_sum(aws, API_NAMESPACE, "PredictionsServed", {**served, "Version": "2"}) == 0

    api.rollback()
    assert {api.invoke()["version"] for _ in range(5)} == {"1"}


def test_v2_errors_alarm_evaluates_to_alarm_and_its_event_rolls_the_alias_back(aws: EmbeddedAws) -> None:
    """The whole canary loop on the embedded AWS: traffic -> metrics -> alarm -> event -> rollback."""
    api = SampleApi.deploy(aws, name="api-e2e", error_rate=1.0, latency_ms=1, jitter_ms=0)
    api.shift(0.5)
    aws.lambda_versions.seed(11)

    def roll_back(event: Any, context: Any) -> str:
        boto3.client("lambda").update_alias(FunctionName="api-e2e", Name="live", FunctionVersion="1",
                                            RoutingConfig={"AdditionalVersionWeights": {}})
        return event["detail"]["alarmName"]

    aws.register("api-e2e-rollback", roll_back)
    cw, events = aws.client("cloudwatch"), aws.client("events")
    cw.put_metric_alarm(
        AlarmName="api-e2e-v2-errors", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=60,
        Dimensions=[{"Name": "FunctionName", "Value": "api-e2e"}, {"Name": "Resource", "Value": "api-e2e:live"},
                    {"Name": "ExecutedVersion", "Value": "2"}],
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching")
    assert cw.describe_alarms(AlarmNames=["api-e2e-v2-errors"])["MetricAlarms"][0]["StateValue"] == \
        "INSUFFICIENT_DATA"  # as AWS creates alarms
    events.put_rule(Name="api-e2e-rollback", EventPattern=json.dumps({
        "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": ["api-e2e-v2-errors"], "state": {"value": ["ALARM"]}}}))
    events.put_targets(Rule="api-e2e-rollback", Targets=[
        {"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api-e2e-rollback"}])

    stats = TrafficGenerator(aws, api.qualified_name, rate_per_second=200, max_requests=20).start().wait()
    assert stats.errors_by_version["2"] > 0

    transitions = {t.alarm_name: t for t in aws.alarms.evaluate()}
    assert transitions["api-e2e-v2-errors"].state == "ALARM"
    assert "Threshold Crossed" in transitions["api-e2e-v2-errors"].reason
    assert "api-e2e-v2-errors" not in {t.alarm_name for t in aws.alarms.evaluate()}  # no change, no transition

    lam = aws.client("lambda")
    assert poll(lambda: lam.get_alias(FunctionName="api-e2e", Name="live").get("RoutingConfig") in (
        None, {"AdditionalVersionWeights": {}}))
    assert {api.invoke()["version"] for _ in range(5)} == {"1"}
