"""Wiring of the primary backup stack (ChurnGuardOpsBackup)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match

from .infra_helpers import (
    apply_input_transformer,
    as_list,
    flat,
    logical_id,
    of_type,
    only,
    policy_statements,
    statements_with_action,
    synth_without_bundling,
)

pytestmark = pytest.mark.infra

CONTRACT_POLICIES = {
    "database": {"schedule_minutes": 60, "retention_days": 30, "encrypted": True, "cross_region": True},
    "application_data": {"schedule_minutes": 1440, "retention_days": 90, "encrypted": True, "cross_region": False},
    "configuration": {"schedule_minutes": 1440, "retention_days": 365, "encrypted": True, "cross_region": True},
}
# The names backups generate: churnguard-ops-<configured instance>-... (never a drill's churnguard-ops-dr-test-...)
SNAPSHOTS = {
    region: sorted(f"arn:<AWS::Partition>:rds:{region}:<AWS::AccountId>:snapshot:churnguard-ops-{db}-*"
                   for db in ("churnguard-prod", "churnguard-analytics"))
    for region in ("us-east-1", "us-west-2")
}
ALL_SNAPSHOTS = sorted(arn for arns in SNAPSHOTS.values() for arn in arns)
NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)
PROD_DB = "arn:<AWS::Partition>:rds:us-east-1:<AWS::AccountId>:db:churnguard-prod"
ANALYTICS_DB = "arn:<AWS::Partition>:rds:us-east-1:<AWS::AccountId>:db:churnguard-analytics"


def _function(resources, name="churnguard-ops-backup"):
    (fn_id, fn), = [(i, r) for i, r in of_type(resources, "AWS::Lambda::Function").items()
                    if r["Properties"]["FunctionName"] == name]
    return fn_id, fn["Properties"]


def _backup_own(resources, cfn_type):
    """The backup function's own resource of a type (the recoverability probe has its own of each)."""
    return only({k: v for k, v in resources.items() if k.startswith("BackupFunction")}, cfn_type)


def _role_id(resources):
    return _function(resources)[1]["Role"]["Fn::GetAtt"][0]


def _newest_python_runtime() -> str:
    names = [n for n in dir(lambda_.Runtime) if re.fullmatch(r"PYTHON_3_\d+", n)]
    newest = max(names, key=lambda n: int(n.rsplit("_", 1)[1]))
    return getattr(lambda_.Runtime, newest).name


# --- function ---------------------------------------------------------------------------------

def test_backup_function_runs_newest_python_on_arm64_with_the_shared_layer(synth, backup_resources,
                                                                           foundation_resources):
    fn_id, props = _function(backup_resources)
    layer_id, layer = only(foundation_resources, "AWS::Lambda::LayerVersion")

    assert props["FunctionName"] == "churnguard-ops-backup"
    assert props["Handler"] == "app.handler"
    assert props["Runtime"] == _newest_python_runtime() == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert synth.resolved(props["Layers"]) == [{"Ref": layer_id}]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_backup_function_limits_tracing_and_log_retention(backup_resources):
    _, props = _function(backup_resources)
    assert props["Timeout"] == 300
    assert props["MemorySize"] == 512
    assert props["ReservedConcurrentExecutions"] == 1, "ticks must not race on pruning"
    assert props["TracingConfig"] == {"Mode": "Active"}

    log_group_id, log_group = _backup_own(backup_resources, "AWS::Logs::LogGroup")
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}
    assert log_group["Properties"]["LogGroupName"] == "/aws/lambda/churnguard-ops-backup"
    assert log_group["Properties"]["RetentionInDays"] == 30


def test_backup_function_environment_is_exactly_the_contract(synth, backup_resources, foundation_resources):
    _, props = _function(backup_resources)
    env = props["Environment"]["Variables"]
    bucket_id = logical_id(foundation_resources, "AWS::S3::Bucket", "BackupBucket")
    key_id = logical_id(foundation_resources, "AWS::KMS::Key", "BackupKey")

    assert set(env) == {
        "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL",
        "BACKUP_DB_INSTANCE_IDS", "BACKUP_DR_REGION", "BACKUP_DR_KMS_KEY_ID", "BACKUP_BUCKET",
        "BACKUP_KMS_KEY_ARN", "BACKUP_DR_BUCKET", "BACKUP_SSM_PATHS", "BACKUP_APP_DATA_BUCKETS",
        "BACKUP_KEEP_LATEST", "BACKUP_MANUAL_SNAPSHOT_QUOTA", "BACKUP_MAX_COPIES_IN_FLIGHT",
        "BACKUP_POLICIES", "BACKUP_DB_SECRETS", "BACKUP_MAX_EVENT_AGE_MINUTES", "BACKUP_MAX_CLOCK_SKEW_MINUTES",
        "BACKUP_DB_SSLMODE",
    }
    assert env["POWERTOOLS_SERVICE_NAME"] == "backup"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ChurnGuardOps"
    assert env["LOG_LEVEL"] == "INFO"
    assert json.loads(env["BACKUP_DB_INSTANCE_IDS"]) == ["churnguard-prod", "churnguard-analytics"]
    assert env["BACKUP_DR_REGION"] == "us-west-2"
    assert env["BACKUP_DR_KMS_KEY_ID"] == "alias/churnguard-ops-dr"
    assert synth.resolved(env["BACKUP_BUCKET"]) == {"Ref": bucket_id}
    assert synth.resolved(env["BACKUP_KMS_KEY_ARN"]) == {"Fn::GetAtt": [key_id, "Arn"]}
    assert flat(env["BACKUP_DR_BUCKET"]) == "churnguard-ops-dr-<AWS::AccountId>-us-west-2"
    assert json.loads(env["BACKUP_SSM_PATHS"]) == ["/churnguard/"]
    assert json.loads(env["BACKUP_APP_DATA_BUCKETS"]) == ["churnguard-app-data"]
    assert (env["BACKUP_KEEP_LATEST"], env["BACKUP_MANUAL_SNAPSHOT_QUOTA"],
            env["BACKUP_MAX_COPIES_IN_FLIGHT"]) == ("3", "100", "5")
    assert json.loads(env["BACKUP_POLICIES"]) == CONTRACT_POLICIES
    assert (env["BACKUP_MAX_EVENT_AGE_MINUTES"], env["BACKUP_MAX_CLOCK_SKEW_MINUTES"]) == ("180", "5")
    # Row-count baselines verify the source's certificate against the RDS bundle in the layer (no SSLROOTCERT).
    assert env["BACKUP_DB_SSLMODE"] == "verify-full"


def test_backup_stack_uses_the_foundation_layer_bucket_key_and_topic_by_reference(synth, backup_resources):
    owned = {r["Type"] for r in backup_resources.values()}
    assert not owned & {"AWS::Lambda::LayerVersion", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SNS::Topic"}
    refs = json.dumps(synth.template_json(synth.backup))
    assert '"StackName": "churnguard-ops-foundation"' in refs


def test_backup_env_dr_bucket_is_the_bucket_the_dr_stack_creates(synth, backup_resources):
    _, props = _function(backup_resources)
    dr_resources = synth.template_json(synth.dr)["Resources"]
    dr_bucket = dr_resources[logical_id(dr_resources, "AWS::S3::Bucket", "DrBucket")]
    assert flat(props["Environment"]["Variables"]["BACKUP_DR_BUCKET"]) == flat(dr_bucket["Properties"]["BucketName"])


def test_async_failures_of_the_function_land_in_its_dlq(backup_resources):
    fn_id, _ = _function(backup_resources)
    dlq_id, dlq = _backup_own(backup_resources, "AWS::SQS::Queue")
    _, invoke = _backup_own(backup_resources, "AWS::Lambda::EventInvokeConfig")
    assert invoke["Properties"]["FunctionName"] == {"Ref": fn_id}
    assert invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert invoke["Properties"]["MaximumRetryAttempts"] == 2
    role_id = _role_id(backup_resources)
    send = statements_with_action(backup_resources, role_id, "sqs:SendMessage")
    assert [s["Resource"] for s in send] == [{"Fn::GetAtt": [dlq_id, "Arn"]}]


def test_dlq_is_encrypted_and_refuses_plain_http(synth):
    synth.template.has_resource_properties(
        "AWS::SQS::Queue",
        {"QueueName": "churnguard-ops-backup-dlq", "SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600},
    )
    synth.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })])}},
    )


# --- schedules --------------------------------------------------------------------------------

def _rules(resources):
    """The backup policies' schedules (the recoverability probe's rule is tested on its own)."""
    return {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()
            if r["Properties"]["Name"] != "churnguard-ops-backup-probe"}


def test_one_rule_per_policy_at_its_schedule(backup_resources):
    rules = _rules(backup_resources)
    # CDK renders rate(60 minutes) as "rate(1 hour)" and rate(1440 minutes) as "rate(1 day)".
    assert {name: r["ScheduleExpression"] for name, r in rules.items()} == {
        "churnguard-ops-backup-database": "rate(1 hour)",
        "churnguard-ops-backup-application-data": "rate(1 day)",
        "churnguard-ops-backup-configuration": "rate(1 day)",
    }
    assert all(r["State"] == "ENABLED" for r in rules.values())


SAMPLE_SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2025-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/churnguard-ops-backup-database"],
    "detail": {},
}


@pytest.mark.parametrize("policy", ["database", "application_data", "configuration"])
def test_rule_delivers_a_scheduled_event_naming_its_policy(backup_resources, policy):
    fn_id, _ = _function(backup_resources)
    rule = _rules(backup_resources)[f"churnguard-ops-backup-{policy.replace('_', '-')}"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}

    delivered = apply_input_transformer(target["InputTransformer"], SAMPLE_SCHEDULED_EVENT)

    assert delivered == {**SAMPLE_SCHEDULED_EVENT, "detail": {"policy": policy}}
    assert isinstance(delivered["resources"], list), "resources must stay a JSON array"


def test_rule_targets_retry_twice_then_use_the_dlq(backup_resources):
    dlq_id, _ = _backup_own(backup_resources, "AWS::SQS::Queue")
    for rule in _rules(backup_resources).values():
        (target,) = rule["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2


# --- alarms -----------------------------------------------------------------------------------

def _alarms(resources):
    return {a["Properties"]["AlarmName"]: a["Properties"]
            for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}


def _dims(service="backup", **dims):
    # Powertools EMF adds service=<POWERTOOLS_SERVICE_NAME> to every metric; alarms must match it.
    return sorted([{"Name": k, "Value": v} for k, v in {**dims, "service": service}.items()], key=lambda d: d["Name"])


def _service_name(resources, function_name):
    """POWERTOOLS_SERVICE_NAME of a synthesized function: the ``service`` dimension of every metric it emits."""
    (function,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"
                   and r["Properties"].get("FunctionName") == function_name]
    return function["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]


def test_alarms_have_contract_thresholds(backup_resources):
    alarms = _alarms(backup_resources)
    age = alarms["churnguard-ops-backup-snapshot-age-churnguard-prod"]
    assert (age["Namespace"], age["MetricName"], age["Statistic"]) == ("ChurnGuardOps", "SnapshotAgeSeconds", "Maximum")
    assert sorted(age["Dimensions"], key=lambda d: d["Name"]) == _dims(DBInstanceIdentifier="churnguard-prod")
    assert age["Threshold"] == (60 + 15) * 60
    assert age["ComparisonOperator"] == "GreaterThanThreshold"
    assert age["TreatMissingData"] == "breaching", "a tick that never ran is a missed backup"

    lag = alarms["churnguard-ops-backup-restorable-lag-churnguard-prod"]
    assert (lag["MetricName"], lag["Statistic"], lag["Threshold"]) == ("RestorableLagSeconds", "Maximum", 15 * 60)
    # The probe publishes it, under its own service name: the alarm must select the probe's series.
    probe_service = _service_name(backup_resources, "churnguard-ops-backup-probe")
    assert probe_service == "backup-probe"
    assert sorted(lag["Dimensions"], key=lambda d: d["Name"]) == _dims(probe_service,
                                                                       DBInstanceIdentifier="churnguard-prod")
    assert lag["ComparisonOperator"] == "GreaterThanThreshold"
    assert lag["TreatMissingData"] == "breaching", "no LatestRestorableTime: automated backups are off"
    # Measured by the 5-minute probe, not the hourly tick: a missed 15-minute RPO pages within 15 minutes.
    assert (lag["Period"], lag["EvaluationPeriods"], lag["DatapointsToAlarm"]) == (5 * 60, 3, 2)
    posture = alarms["churnguard-ops-backup-posture-churnguard-prod"]
    assert (posture["MetricName"], posture["Threshold"], posture["ComparisonOperator"]) == (
        "PostureViolations", 0, "GreaterThanThreshold")
    assert sorted(posture["Dimensions"], key=lambda d: d["Name"]) == _dims(probe_service,
                                                                           DBInstanceIdentifier="churnguard-prod")

    for region in ("us-east-1", "us-west-2"):
        quota = alarms[f"churnguard-ops-backup-snapshot-quota-{region}"]
        assert quota["MetricName"] == "ManualSnapshotQuotaUsedRatio"
        assert sorted(quota["Dimensions"], key=lambda d: d["Name"]) == _dims(Region=region)
        assert (quota["Threshold"], quota["ComparisonOperator"]) == (0.9, "GreaterThanOrEqualToThreshold")

    for policy in ("database", "application-data", "configuration"):
        failed = alarms[f"churnguard-ops-backup-targets-failed-{policy}"]
        assert failed["MetricName"] == "BackupTargetsFailed"
        assert sorted(failed["Dimensions"], key=lambda d: d["Name"]) == _dims(Policy=policy.replace("-", "_"))
        assert (failed["Statistic"], failed["Threshold"], failed["ComparisonOperator"]) == (
            "Sum", 0, "GreaterThanThreshold")

    dlq = alarms["churnguard-ops-backup-dlq-not-empty"]
    assert (dlq["Namespace"], dlq["MetricName"], dlq["Threshold"]) == (
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", 0)
    errors = alarms["churnguard-ops-backup-errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/Lambda", "Errors", 0)
    # per instance: snapshot age + DR freshness + restorable lag + posture (2 instances); per region: quota;
    # per policy; DLQ; errors; probe errors
    assert len(alarms) == 2 * 4 + 2 + 3 + 1 + 1 + 1


def test_alarm_dimensions_match_what_powertools_emits(monkeypatch):
    """The alarm metric's dimension set equals the one in a real Powertools EMF line."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "backup")
    lines = []
    monkeypatch.setattr("builtins.print", lambda line, *a, **k: lines.append(line))
    with single_metric(name="SnapshotAgeSeconds", unit=MetricUnit.Seconds, value=1, namespace="ChurnGuardOps",
                       default_dimensions={"DBInstanceIdentifier": "churnguard-prod"}):
        pass
    (emf,) = [json.loads(line) for line in lines]
    (emitted,) = emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sorted(emitted) == [d["Name"] for d in _dims(DBInstanceIdentifier="x")]


def test_every_alarm_notifies_the_ops_topic(synth, backup_resources, foundation_resources):
    topic_id, _ = only(foundation_resources, "AWS::SNS::Topic")
    alarms = _alarms(backup_resources)
    assert alarms
    assert all(synth.resolved(a["AlarmActions"]) == [{"Ref": topic_id}] for a in alarms.values())


def test_alarm_windows_are_valid_for_cloudwatch(backup_resources):
    for alarm in _alarms(backup_resources).values():
        if "Period" in alarm:
            assert alarm["Period"] % 60 == 0
            assert alarm["Period"] * alarm["EvaluationPeriods"] <= 86400


def test_backup_dashboard_exists(synth):
    synth.template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "churnguard-ops-backups"})


def test_outputs_name_function_bucket_topic_and_dlq(synth):
    outputs = synth.template.to_json()["Outputs"]
    assert {"BackupFunctionName", "BackupDlqUrl"} <= set(outputs)
    # The bucket and the topic are the foundation's (test_foundation_stack).
    assert {"BackupBucketName", "OpsTopicArn"} <= set(synth.foundation_template.to_json()["Outputs"])


# --- IAM --------------------------------------------------------------------------------------

def test_backup_role_has_no_managed_policies(backup_resources):
    role = backup_resources[_role_id(backup_resources)]["Properties"]
    assert "ManagedPolicyArns" not in role


def test_snapshot_delete_is_limited_to_our_tagged_snapshots_in_both_regions(backup_resources):
    (stmt,) = statements_with_action(backup_resources, _role_id(backup_resources), "rds:DeleteDBSnapshot")
    assert stmt["Condition"] == {"StringEquals": {"rds:snapshot-tag/CreatedBy": "churnguard-ops",
                                                  "rds:snapshot-tag/Purpose": "DisasterRecovery"}}
    assert sorted(flat(r) for r in as_list(stmt["Resource"])) == ALL_SNAPSHOTS
    assert not any("dr-test" in r or r.endswith(":snapshot:churnguard-ops-*") for r in ALL_SNAPSHOTS)


def test_rds_actions_are_scoped_to_configured_instances_and_our_snapshots(backup_resources):
    role_id = _role_id(backup_resources)
    resources_of = lambda action: sorted(  # noqa: E731
        flat(r) for s in statements_with_action(backup_resources, role_id, action) for r in as_list(s["Resource"])
    )
    assert resources_of("rds:DescribeDBInstances") == sorted([PROD_DB, ANALYTICS_DB])
    assert resources_of("rds:CreateDBSnapshot") == sorted([PROD_DB, ANALYTICS_DB, *SNAPSHOTS["us-east-1"]])
    assert resources_of("rds:CopyDBSnapshot") == ALL_SNAPSHOTS
    assert resources_of("rds:AddTagsToResource") == ALL_SNAPSHOTS
    assert resources_of("rds:DescribeDBSnapshots") == ["*"]
    assert resources_of("rds:ListTagsForResource") == [], "tags are read back with DescribeDBSnapshots"


def test_dr_key_is_usable_only_through_its_alias(backup_resources):
    role_id = _role_id(backup_resources)
    kms = [s for s in policy_statements(backup_resources, role_id)
           if any(a.startswith("kms:") for a in as_list(s["Action"])) and "us-west-2" in flat(s["Resource"])]
    assert {a for s in kms for a in as_list(s["Action"])} == {
        "kms:DescribeKey", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant"}
    for s in kms:
        assert flat(s["Resource"]) == "arn:<AWS::Partition>:kms:us-west-2:<AWS::AccountId>:key/*"
        assert s["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": ["alias/churnguard-ops-dr"]}
    (use,) = [s for s in kms if "kms:Decrypt" in as_list(s["Action"])]
    assert use["Condition"]["StringEquals"] == {"kms:ViaService": ["rds.us-west-2.amazonaws.com",
                                                                   "s3.us-west-2.amazonaws.com"]}


def test_dr_configuration_copy_may_encrypt_under_the_dr_key_only_for_configured_parameters(backup_resources):
    role_id = _role_id(backup_resources)
    on_dr_keys = [s for s in policy_statements(backup_resources, role_id)
                  if "kms:us-west-2:" in flat(s["Resource"])]
    direct = [s for s in on_dr_keys if "kms:ViaService" not in json.dumps(s.get("Condition", {}))
              and "kms:GrantIsForAWSResource" not in json.dumps(s.get("Condition", {}))]
    (encrypt,) = direct  # the one DR-key right not exercised through RDS or S3
    assert encrypt["Sid"] == "DrKeyEncryptConfigurationSecureStrings"
    assert as_list(encrypt["Action"]) == ["kms:Encrypt"]
    assert flat(encrypt["Resource"]) == "arn:<AWS::Partition>:kms:us-west-2:<AWS::AccountId>:key/*"
    assert encrypt["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/churnguard-ops-dr"]},
        "StringLike": {"kms:EncryptionContext:churnguard:parameter": ["/churnguard/*"]},
    }


def test_tagging_may_set_only_the_tags_backups_write():
    from churnguard_ops.backup.naming import snapshot_tags
    from churnguard_ops.core.contracts import COPIED_FROM_TAG
    from infra_cdk.stacks.backup_grants import BACKUP_TAG_KEYS

    written = set(snapshot_tags("db", "database", NOW, NOW, on_demand=True)) | {COPIED_FROM_TAG}
    assert set(BACKUP_TAG_KEYS) == written


def test_backup_tagging_is_limited_to_the_backup_tag_keys(backup_resources):
    (stmt,) = statements_with_action(backup_resources, _role_id(backup_resources), "rds:AddTagsToResource")
    assert stmt["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": sorted(
        ["Purpose", "CreatedBy", "Policy", "SourceDBInstance", "Slot", "RetentionDate", "OnDemand", "CopiedFrom"])}}


def test_ssm_reads_are_scoped_to_the_configured_paths(backup_resources):
    (stmt,) = statements_with_action(backup_resources, _role_id(backup_resources), "ssm:GetParametersByPath")
    assert sorted(flat(r) for r in stmt["Resource"]) == [
        "arn:<AWS::Partition>:ssm:us-east-1:<AWS::AccountId>:parameter/churnguard",
        "arn:<AWS::Partition>:ssm:us-east-1:<AWS::AccountId>:parameter/churnguard/*",
    ]


def test_s3_rights_are_per_bucket(synth, backup_resources, foundation_resources):
    role_id = _role_id(backup_resources)
    bucket_id = logical_id(foundation_resources, "AWS::S3::Bucket", "BackupBucket")
    (put,) = statements_with_action(backup_resources, role_id, "s3:PutObject")
    assert sorted(flat(synth.resolved(r)) for r in put["Resource"]) == sorted([
        f"<{bucket_id}.Arn>/configuration/*", f"<{bucket_id}.Arn>/baselines/*",
        "arn:<AWS::Partition>:s3:::churnguard-ops-dr-<AWS::AccountId>-us-west-2/configuration/*"])
    (versioning,) = statements_with_action(backup_resources, role_id, "s3:PutBucketVersioning")
    assert [flat(r) for r in as_list(versioning["Resource"])] == ["arn:<AWS::Partition>:s3:::churnguard-app-data"]
    assert not statements_with_action(backup_resources, role_id, "s3:PutReplicationConfiguration"), \
        "replication is only read: a backup tick never changes it"


def test_only_unscopable_actions_use_resource_star(backup_resources):
    star_actions = {
        a for s in policy_statements(backup_resources, _role_id(backup_resources))
        if "*" in as_list(s["Resource"]) for a in as_list(s["Action"])
    }
    assert star_actions == {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "rds:DescribeDBSnapshots"}
    all_actions = [a for s in policy_statements(backup_resources, _role_id(backup_resources))
                   for a in as_list(s["Action"])]
    assert not [a for a in all_actions if "*" in a], "no wildcard actions"


# --- other context values ---------------------------------------------------------------------

def test_context_drives_instances_emails_and_thresholds(tmp_path):
    templates = synth_without_bundling(tmp_path, {
        "prefix": "churnguard-ops",
        "notification_emails": ["ops@example.com", "oncall@example.com"],
        "backup": {"db_instance_ids": ["db-a", "db-b"], "rpo_minutes": 5,
                   "policies": {"database": {"schedule_minutes": 30}}},
    })
    template = templates["ChurnGuardOpsBackup"]
    templates["ChurnGuardOpsFoundation"].resource_count_is("AWS::SNS::Subscription", 2)
    templates["ChurnGuardOpsFoundation"].has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
    for db in ("db-a", "db-b"):
        template.has_resource_properties("AWS::CloudWatch::Alarm", {
            "AlarmName": f"churnguard-ops-backup-snapshot-age-{db}", "Threshold": (30 + 5) * 60, "Period": 1800})
        template.has_resource_properties("AWS::CloudWatch::Alarm", {
            "AlarmName": f"churnguard-ops-backup-restorable-lag-{db}", "Threshold": 300})
    template.has_resource_properties("AWS::Events::Rule", {
        "Name": "churnguard-ops-backup-database", "ScheduleExpression": "rate(30 minutes)"})
    (fn,) = [f for f in template.find_resources("AWS::Lambda::Function").values()
             if f["Properties"]["FunctionName"] == "churnguard-ops-backup"]
    env = fn["Properties"]["Environment"]["Variables"]
    assert json.loads(env["BACKUP_DB_INSTANCE_IDS"]) == ["db-a", "db-b"]
    assert json.loads(env["BACKUP_POLICIES"])["database"] == {**CONTRACT_POLICIES["database"], "schedule_minutes": 30}


def test_backup_function_reads_only_the_configured_secrets_and_writes_baselines(synth, backup_resources):
    from .conftest import CONFIGURED_SECRET

    _, props = _function(backup_resources)
    assert json.loads(props["Environment"]["Variables"]["BACKUP_DB_SECRETS"]) == {"churnguard-prod": CONFIGURED_SECRET}
    role_id = _role_id(backup_resources)
    (read,) = statements_with_action(backup_resources, role_id, "secretsmanager:GetSecretValue")
    assert sorted(as_list(read["Resource"])) == [CONFIGURED_SECRET, f"{CONFIGURED_SECRET}-??????"]
    (baselines,) = statements_with_action(backup_resources, role_id, "s3:GetObject")
    assert flat(synth.resolved(baselines["Resource"])).endswith(".Arn>/baselines/*")


def test_backup_function_joins_the_database_vpc_when_it_records_baselines(tmp_path):
    from infra_cdk.paths import cdk_json_context

    from .conftest import CONFIGURED_SECRET

    vpc = {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0123456789abcdef0"],
           "security_group_ids": ["sg-0123456789abcdef0"]}
    churnguard = json.loads(json.dumps(cdk_json_context()["churnguard"]))
    churnguard["drill"].update(vpc=vpc, db_secrets={"churnguard-prod": CONFIGURED_SECRET})
    template = synth_without_bundling(tmp_path, churnguard)["ChurnGuardOpsBackup"].to_json()
    fns = {r["Properties"]["FunctionName"]: r["Properties"] for r in template["Resources"].values()
           if r["Type"] == "AWS::Lambda::Function"}
    assert "VpcConfig" not in fns["churnguard-ops-backup-probe"], "the probe calls only the RDS API"
    fn = {"Properties": fns["churnguard-ops-backup"]}
    assert fn["Properties"]["VpcConfig"] == {"SubnetIds": vpc["subnet_ids"],
                                             "SecurityGroupIds": vpc["security_group_ids"]}


def test_dr_freshness_alarm_per_instance_breaches_without_any_restorable_copy(backup_resources):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in backup_resources.values()
              if a["Type"] == "AWS::CloudWatch::Alarm"}
    for db in ("churnguard-prod", "churnguard-analytics"):
        alarm = alarms[f"churnguard-ops-backup-dr-freshness-{db}"]
        assert alarm["MetricName"] == "DrRecoveryPointAgeSeconds"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"DBInstanceIdentifier": db,
                                                                          "service": "backup"}
        assert alarm["Threshold"] == (2 * 60 + 15) * 60  # two database schedules + RPO
        assert alarm["TreatMissingData"] == "breaching"


# Its own DLQ, logs and traces, plus describing the configured instances: nothing that changes anything.
PROBE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents', 'rds:DescribeDBInstances', 'sqs:GetQueueAttributes',
                 'sqs:GetQueueUrl', 'sqs:SendMessage', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']


# --- recoverability probe ---------------------------------------------------------------------

def test_probe_measures_every_five_minutes_with_describe_rights_on_configured_instances_only(backup_resources):
    fn_id, probe = _function(backup_resources, "churnguard-ops-backup-probe")
    assert probe["Handler"] == "app.probe"
    assert json.loads(probe["Environment"]["Variables"]["BACKUP_DB_INSTANCE_IDS"]) == [
        "churnguard-prod", "churnguard-analytics"]
    role_id = probe["Role"]["Fn::GetAtt"][0]
    statements = list(policy_statements(backup_resources, role_id))
    actions = sorted({action for s in statements for action in as_list(s["Action"])})
    assert actions == PROBE_ACTIONS, "no snapshot, tag, key, bucket or secret rights"
    describe = [s for s in statements if "rds:DescribeDBInstances" in as_list(s["Action"])]
    assert sorted(flat(r) for r in as_list(describe[0]["Resource"])) == sorted([PROD_DB, ANALYTICS_DB])
    (rule,) = [r for r in of_type(backup_resources, "AWS::Events::Rule").values()
               if r["Properties"]["Name"] == "churnguard-ops-backup-probe"]
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}


def test_a_probe_slower_than_the_rpo_fails_synth():
    from pydantic import ValidationError

    from infra_cdk.settings import BackupContext

    with pytest.raises(ValidationError, match="probe_minutes"):
        BackupContext.model_validate({"rpo_minutes": 15, "probe_minutes": 30})
