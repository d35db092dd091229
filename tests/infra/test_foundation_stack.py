"""What every capability shares (ChurnGuardOpsFoundation): layer, ops topic, ops CMK and bucket."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from .infra_helpers import as_list, logical_id, only

pytestmark = pytest.mark.infra


# --- stack ------------------------------------------------------------------------------------

def test_foundation_is_deployed_in_the_primary_region_before_every_capability_stack(synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())["artifacts"]
    foundation = manifest["ChurnGuardOpsFoundation"]
    assert foundation["properties"]["stackName"] == "churnguard-ops-foundation"
    assert foundation["environment"].endswith("/us-east-1")
    for capability in ("ChurnGuardOpsBackup", "ChurnGuardOpsDrill"):
        assert "ChurnGuardOpsFoundation" in manifest[capability]["dependencies"], capability
        assert manifest[capability]["environment"] == foundation["environment"], capability


def test_capability_stacks_receive_one_foundation_object(synth):
    from infra_cdk.constructs import Foundation

    foundation = synth.foundation.foundation
    assert isinstance(foundation, Foundation)
    assert synth.backup.foundation is foundation and synth.drill.foundation is foundation


def test_outputs_name_the_bucket_and_the_topic(synth):
    outputs = synth.foundation_template.to_json()["Outputs"]
    assert {"BackupBucketName", "OpsTopicArn"} <= set(outputs)


# --- layer ------------------------------------------------------------------------------------

def test_the_shared_layer_is_for_the_newest_python_on_arm64(foundation_resources):
    _, layer = only(foundation_resources, "AWS::Lambda::LayerVersion")
    assert layer["Properties"]["LayerName"] == "churnguard-ops-shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.14"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


# --- storage, keys, topic ---------------------------------------------------------------------

def test_backup_bucket_is_kms_encrypted_versioned_private_tls_only_and_logged(synth, foundation_resources):
    bucket_id = logical_id(foundation_resources, "AWS::S3::Bucket", "BackupBucket")
    key_id = logical_id(foundation_resources, "AWS::KMS::Key", "BackupKey")
    logs_id = logical_id(foundation_resources, "AWS::S3::Bucket", "AccessLogBucket")
    props = foundation_resources[bucket_id]["Properties"]

    (sse,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert sse["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}
    synth.foundation_template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"Bucket": {"Ref": bucket_id}, "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })])}},
    )


def test_backup_bucket_lifecycle_expires_exports_per_policy_retention(foundation_resources):
    bucket_id = logical_id(foundation_resources, "AWS::S3::Bucket", "BackupBucket")
    rules = {r["Id"]: r for r in foundation_resources[bucket_id]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-configuration-exports"]["Prefix"] == "configuration/"
    assert rules["expire-configuration-exports"]["ExpirationInDays"] == 365
    assert rules["expire-noncurrent-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert all(r["Status"] == "Enabled" for r in rules.values())


def test_the_ops_cmk_keeps_the_alias_deployed_functions_know(synth, foundation_resources):
    key_id = logical_id(foundation_resources, "AWS::KMS::Key", "BackupKey")
    synth.foundation_template.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": "alias/churnguard-ops-backup", "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )


def test_every_kms_key_rotates(synth):
    for template in (synth.foundation_template, synth.template, synth.dr_template, synth.drill_template):
        keys = template.find_resources("AWS::KMS::Key")
        assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())
    assert synth.foundation_template.find_resources("AWS::KMS::Key")
    assert synth.dr_template.find_resources("AWS::KMS::Key")


def test_ops_topic_is_encrypted_tls_only_and_alarms_may_use_its_key(synth, foundation_resources):
    key_id = logical_id(foundation_resources, "AWS::KMS::Key", "NotificationsKey")
    synth.foundation_template.has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": "churnguard-ops-ops", "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    synth.foundation_template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })])}},
    )
    key_statements = foundation_resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
    cw = [s for s in key_statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cw and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(cw[0]["Action"]))


def test_no_email_subscription_without_addresses(synth):
    synth.foundation_template.resource_count_is("AWS::SNS::Subscription", 0)
