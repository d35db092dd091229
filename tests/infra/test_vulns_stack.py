"""Wiring of the vulnerability management stack (ChurnGuardOpsVulns): the ledger table, the four functions and
what triggers them, least-privilege IAM, alarms, and the exceptions file validated and deployed."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from churnguard_ops.core import contracts
from churnguard_ops.vulns.settings import VulnsSettings

from .infra_helpers import as_list, flat, of_type, only, policy_statements

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"
FUNCTIONS = {"poll": "app.poll", "on-finding": "app.on_finding", "ingest-build": "app.ingest_build",
             "report": "app.report"}


@pytest.fixture(scope="module")
def resources(synth) -> dict[str, Any]:
    return synth.template_json(synth.vulns)["Resources"]


def _function(resources: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, v) for k, v in of_type(resources, "AWS::Lambda::Function").items()
                if v["Properties"].get("FunctionName") == f"{PREFIX}-vulns-{name}"]
    return found


def _grants(resources: dict[str, Any], name: str) -> dict[str, tuple[list[str], list[str]]]:
    """Sid -> (actions, flattened resources) of the function's own grants (its log group and X-Ray left out)."""
    role = _function(resources, name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return {s["Sid"]: (sorted(as_list(s["Action"])), sorted(flat(r) for r in as_list(s["Resource"])))
            for s in policy_statements(resources, role) if "Sid" in s}


def _rules(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()}


def test_the_ledger_is_keyed_by_pk_with_the_state_resource_index_on_the_ops_key_with_pitr(synth, resources):
    _, table = only(resources, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["TableName"] == f"{PREFIX}-vulns-ledger"
    assert props["KeySchema"] == [{"AttributeName": contracts.VULNS_LEDGER_KEY, "KeyType": "HASH"}]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == contracts.VULNS_LEDGER_STATE_INDEX
    assert index["KeySchema"] == [{"AttributeName": "state", "KeyType": "HASH"},
                                  {"AttributeName": "resource", "KeyType": "RANGE"}]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert flat(synth.resolved(props["SSESpecification"]["KMSMasterKeyId"])).startswith("<BackupKey")  # the ops key
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "TimeToLiveSpecification" not in props  # the ledger keeps every finding's history
    assert table["DeletionPolicy"] == "Retain"


def test_each_function_gets_every_variable_the_vulns_settings_read(synth, resources):
    foundation = synth.template_json(synth.foundation)["Resources"]
    (layer,) = of_type(foundation, "AWS::Lambda::LayerVersion").values()
    for name in FUNCTIONS:
        env = _function(resources, name)[1]["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "vulns"
        assert env["VULNS_FUNCTION_PREFIX"] == f"{PREFIX}-"
        assert json.loads(env["VULNS_LAYER_RESOURCES"]) == {layer["Properties"]["LayerName"]: "layer:ops"}
        assert env["VULNS_EXCEPTIONS_KEY"] == contracts.VULNS_EXCEPTIONS_KEY
        assert json.loads(env["VULNS_SLA_DAYS"]) == {"critical": 15, "high": 30, "medium": 90, "low": 120}
        assert env["VULNS_EXPIRING_WITHIN_DAYS"] == "14"
        # The deployed resources' names are tokens here: stand-ins let the functions' settings read the rest.
        literal = {k: (v if isinstance(v, str) else f"deployed-{k.lower()}") for k, v in env.items()}
        structured = ("VULNS_SLA_DAYS", "VULNS_LAYER_RESOURCES")
        settings = VulnsSettings(**{k.removeprefix("VULNS_").lower(): v for k, v in literal.items()
                                    if k.startswith("VULNS_") and k not in structured},
                                 sla_days=json.loads(env["VULNS_SLA_DAYS"]),
                                 layer_resources=json.loads(env["VULNS_LAYER_RESOURCES"]))
        assert settings.sla_policy().days == {"critical": 15, "high": 30, "medium": 90, "low": 120}
        read = {f"VULNS_{f.upper()}" for f in VulnsSettings.model_fields}
        unknown = {k for k in env if k.startswith("VULNS_")} - read
        assert unknown == set()
        assert flat(env["VULNS_LEDGER_TABLE"]).startswith("<LedgerTable")
        assert flat(synth.resolved(env["VULNS_BUCKET"])).startswith("<BackupBucket")
        assert flat(synth.resolved(env["VULNS_TOPIC_ARN"])).startswith("<OpsTopic")


def test_grants_are_exactly_what_each_function_calls(resources):
    table = "<LedgerTable"
    ledger = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    key_via_dynamodb = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    grants = {name: _grants(resources, name) for name in FUNCTIONS}
    common = {"Ledger", "LedgerKey", "ReadExceptionsFile", "ExceptionsFileExists", "ObjectsKey"}
    assert set(grants["poll"]) == common | {"InspectorFindings", "OurFunctions"}
    assert set(grants["on-finding"]) == common | {"InspectorFindings"}
    assert set(grants["ingest-build"]) == common | {"ReadBuildReports"}
    assert set(grants["report"]) == common | {"WriteReports", "AnnounceReports", "OpsTopicKey"}
    for g in grants.values():
        assert g["Ledger"][0] == ledger
        assert len(g["Ledger"][1]) == 2 and all(r.startswith(table) for r in g["Ledger"][1])
        assert g["Ledger"][1][1].endswith(f"/index/{contracts.VULNS_LEDGER_STATE_INDEX}")
        assert g["LedgerKey"][0] == key_via_dynamodb
        assert g["ReadExceptionsFile"][0] == ["s3:GetObject"]
        assert g["ReadExceptionsFile"][1][0].endswith(f"/{contracts.VULNS_EXCEPTIONS_KEY}")
        assert g["ExceptionsFileExists"][0] == ["s3:ListBucket"]
    assert grants["poll"]["InspectorFindings"] == (["inspector2:ListCoverage", "inspector2:ListFindings"], ["*"])
    assert grants["poll"]["OurFunctions"] == (["lambda:ListFunctions"], ["*"])
    assert grants["on-finding"]["InspectorFindings"] == (["inspector2:ListFindings"], ["*"])
    assert grants["ingest-build"]["ReadBuildReports"][0] == ["s3:GetObject"]
    assert grants["ingest-build"]["ReadBuildReports"][1][0].endswith(f"/{contracts.VULNS_BUILD_REPORTS_PREFIX}*")
    assert grants["report"]["WriteReports"][0] == ["s3:PutObject"]
    assert grants["report"]["WriteReports"][1][0].endswith(f"/{contracts.VULNS_REPORTS_PREFIX}*")
    assert grants["report"]["ObjectsKey"][0] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert all(grants[n]["ObjectsKey"][0] == ["kms:Decrypt"] for n in ("poll", "on-finding", "ingest-build"))
    assert grants["report"]["AnnounceReports"][0] == ["sns:Publish"]
    # Nothing else writes: no other function may put, delete or scan.
    writes = {a for g in grants.values() for actions, _ in g.values() for a in actions
              if a.startswith(("s3:Put", "s3:Delete", "dynamodb:Delete", "dynamodb:Scan"))}
    assert writes == {"s3:PutObject"}


def test_key_and_list_grants_are_conditioned_to_their_service_and_the_exceptions_key(resources):
    for name in FUNCTIONS:
        role = _function(resources, name)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
        by_sid = {s["Sid"]: s for s in policy_statements(resources, role) if "Sid" in s}
        assert by_sid["LedgerKey"]["Condition"] == {
            "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
        assert by_sid["ObjectsKey"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
        assert by_sid["ExceptionsFileExists"]["Condition"] == {
            "StringEquals": {"s3:prefix": contracts.VULNS_EXCEPTIONS_KEY}}


def test_inspector_findings_of_our_functions_reach_on_finding_with_a_dlq_and_retries(resources):
    rule = _rules(resources)[f"{PREFIX}-vulns-inspector-finding"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == [contracts.INSPECTOR_EVENT_SOURCE]
    assert pattern["detail-type"] == [contracts.INSPECTOR_FINDING_DETAIL_TYPE]
    (prefix,) = pattern["resources"]
    assert flat(prefix["prefix"]) == f"arn:<AWS::Partition>:lambda:us-east-1:<AWS::AccountId>:function:{PREFIX}-"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [_function(resources, "on-finding")[0], "Arn"]}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_build_reports_created_under_the_prefix_of_the_ops_bucket_reach_ingest_build(synth, resources):
    rule = _rules(resources)[f"{PREFIX}-vulns-build-report"]
    pattern = rule["EventPattern"]
    assert (pattern["source"], pattern["detail-type"]) == (["aws.s3"], ["Object Created"])
    assert pattern["detail"]["object"]["key"] == [{"prefix": contracts.VULNS_BUILD_REPORTS_PREFIX}]
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert flat(synth.resolved(bucket)).startswith("<BackupBucket")
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [_function(resources, "ingest-build")[0], "Arn"]}
    assert "DeadLetterConfig" in target


def test_the_ops_bucket_sends_its_events_to_eventbridge(synth):
    foundation = synth.template_json(synth.foundation)["Resources"]
    buckets = [r for k, r in of_type(foundation, "AWS::S3::Bucket").items() if k.startswith("BackupBucket")]
    (bucket,) = buckets
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert of_type(foundation, "Custom::S3BucketNotifications") == {}  # no custom-resource Lambda for it


def test_poll_every_6_hours_and_report_weekly_with_the_actions_their_handlers_parse(resources):
    from churnguard_ops.vulns.events import PollRequest, ReportRequest

    rules = _rules(resources)
    for name, schedule, model in (("poll", "rate(6 hours)", PollRequest),
                                  ("report", "cron(0 8 ? * MON *)", ReportRequest)):
        rule = rules[f"{PREFIX}-vulns-{name}"]
        assert rule["ScheduleExpression"] == schedule
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [_function(resources, name)[0], "Arn"]}
        assert model.model_validate(json.loads(target["Input"])).action == name
        assert "DeadLetterConfig" in target


def test_alarms_on_sla_breaches_coverage_gaps_errors_and_dlqs_notify_the_ops_topic(synth, resources):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}
    expected = {f"{PREFIX}-vulns-sla-breaches", f"{PREFIX}-vulns-not-scanned"} | {
        f"{PREFIX}-vulns-{name}-{kind}" for name in FUNCTIONS for kind in ("errors", "dlq")}
    assert set(alarms) == expected
    for name, metric in ((f"{PREFIX}-vulns-sla-breaches", contracts.VULNS_METRIC_SLA_BREACHES),
                         (f"{PREFIX}-vulns-not-scanned", contracts.VULNS_METRIC_NOT_SCANNED)):
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == (contracts.METRICS_NAMESPACE, metric)
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "vulns"}]  # what Powertools adds to EMF
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    for alarm in alarms.values():
        (action,) = alarm["AlarmActions"]
        assert flat(synth.resolved(action)).startswith("<OpsTopic")


def test_the_exceptions_file_is_deployed_to_its_key_and_its_handler_may_write_nothing_else(resources):
    _, deployment = only(resources, "Custom::CDKBucketDeployment")
    props = deployment["Properties"]
    assert props["DestinationBucketKeyPrefix"] + "vulnerability-exceptions.toml" == contracts.VULNS_EXCEPTIONS_KEY
    assert props["Prune"] is False  # vulns/ holds the build reports and the reports too
    assert props.get("RetainOnDelete", True) is True
    role = [k for k, r in of_type(resources, "AWS::IAM::Role").items() if k.startswith("ExceptionsFileDeploymentRole")]
    denies = {s["Sid"]: s for s in policy_statements(resources, role[0]) if s.get("Effect") == "Deny"}
    write = denies["WriteOnlyTheExceptionsFile"]
    assert sorted(write["Action"]) == ["s3:Abort*", "s3:DeleteObject*", "s3:PutObject*"]
    assert flat(write["NotResource"]).endswith(f"/{contracts.VULNS_EXCEPTIONS_KEY}")
    read = denies["ReadOnlyTheExceptionsFileAndItsSource"]
    assert [flat(r) for r in read["NotResource"]][0].endswith(f"/{contracts.VULNS_EXCEPTIONS_KEY}")
    assert of_type(resources, "AWS::IAM::Role")[role[0]]["Properties"].get("ManagedPolicyArns") is None


def test_an_unscoped_exception_fails_the_synth_naming_it_and_an_expired_one_does_not(tmp_path):
    from infra_cdk.stacks.vulns_exceptions import InvalidExceptionsFile, validated_exceptions

    entry = ('[[exception]]\nid = "CVE-2026-1"\npackage = "urllib3"\nresource = "{resource}"\nreason = "r"\n'
             'approver = "a@example.com"\nexpires = {expires}\n')
    expired = tmp_path / "expired.toml"
    expired.write_text(entry.format(resource="layer:ops", expires="2026-01-01"))
    assert validated_exceptions(expired, today=date(2026, 11, 30)) == expired.read_text()
    unscoped = tmp_path / "unscoped.toml"
    unscoped.write_text(entry.format(resource="*", expires="2027-01-01"))
    with pytest.raises(InvalidExceptionsFile, match=r"exception 1 \(CVE-2026-1\): field 'resource'"):
        validated_exceptions(unscoped, today=date(2026, 11, 30))
    too_far = tmp_path / "too_far.toml"
    too_far.write_text(entry.format(resource="layer:ops", expires="2028-06-01"))
    with pytest.raises(InvalidExceptionsFile, match="more than 365 days away"):
        validated_exceptions(too_far, today=date(2026, 11, 30))
    assert validated_exceptions(tmp_path / "missing.toml") == ""


def test_the_repository_exceptions_file_is_what_the_stack_deploys(synth):
    from infra_cdk.stacks.vulns_exceptions import EXCEPTIONS_FILE

    manifest = json.loads((synth.outdir / "ChurnGuardOpsVulns.assets.json").read_text())
    sources = [synth.outdir / f["source"]["path"] for f in manifest["files"].values()]
    deployed = [p / "vulnerability-exceptions.toml" for p in sources if (p / "vulnerability-exceptions.toml").exists()]
    assert [p.read_text() for p in deployed] == [EXCEPTIONS_FILE.read_text()]


def test_the_stack_refuses_to_deploy_an_exceptions_file_with_an_unscoped_entry(tmp_path):
    from types import SimpleNamespace

    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    from infra_cdk.stacks.vulns_exceptions import InvalidExceptionsFile, deploy_exceptions_file

    unscoped = tmp_path / "vulnerability-exceptions.toml"
    unscoped.write_text('[[exception]]\nid = "B608"\npackage = "B608"\nresource = "*"\nreason = "r"\n'
                        'approver = "a@example.com"\nexpires = 2026-12-01\n')
    stack = Stack(App(), "Probe")
    foundation = SimpleNamespace(bucket=s3.Bucket(stack, "Ops"))
    with pytest.raises(InvalidExceptionsFile, match="spans every kind"):
        deploy_exceptions_file(stack, foundation=foundation, path=unscoped)
    assert [c.node.id for c in stack.node.children] == ["Ops"]  # nothing of the deployment was built
