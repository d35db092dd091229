"""The DR-region stack (ChurnGuardOpsBackupDr) and how the primary stack finds it."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from .infra_helpers import flat, logical_id

pytestmark = pytest.mark.infra


def test_dr_stack_is_deployed_to_the_dr_region_before_the_primary(synth):
    assert synth.dr.region == "us-west-2"
    assert synth.backup.region == "us-east-1"
    assert synth.dr in synth.backup.dependencies


def test_dr_key_rotates_and_carries_the_contract_alias(synth):
    resources = synth.template_json(synth.dr)["Resources"]
    key_id = logical_id(resources, "AWS::KMS::Key", "DrKey")
    assert resources[key_id]["Properties"]["EnableKeyRotation"] is True
    synth.dr_template.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": "alias/churnguard-ops-dr", "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )


def test_dr_key_policy_leaves_use_to_iam_so_the_backup_role_grant_applies(synth):
    # The backup role's kms:Encrypt on this key (DR configuration exports) is an IAM grant in the primary
    # stack; the key policy must delegate to the account's IAM policies, and grant nobody anything else.
    resources = synth.template_json(synth.dr)["Resources"]
    key = resources[logical_id(resources, "AWS::KMS::Key", "DrKey")]["Properties"]
    (statement,) = key["KeyPolicy"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "kms:*" and statement["Resource"] == "*"
    assert flat(statement["Principal"]["AWS"]).endswith(":iam::<AWS::AccountId>:root")


def test_dr_bucket_has_deterministic_name_and_is_encrypted_with_the_dr_key(synth):
    resources = synth.template_json(synth.dr)["Resources"]
    bucket = resources[logical_id(resources, "AWS::S3::Bucket", "DrBucket")]["Properties"]
    key_id = logical_id(resources, "AWS::KMS::Key", "DrKey")
    assert flat(bucket["BucketName"]) == "churnguard-ops-dr-<AWS::AccountId>-us-west-2"
    (sse,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    synth.dr_template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-configuration-exports"]["ExpirationInDays"] == 365


def test_stacks_do_not_reference_each_other_across_regions(synth):
    for stack in (synth.foundation, synth.backup, synth.dr):
        template = synth.template_json(stack)
        assert "Fn::ImportValue" not in str(template)
        assert not any(k.startswith("ExportsReader") for k in template["Resources"])
