"""The CloudTrail detectors' rules that guard data and backups (S3 public access, shared snapshots, backup
tampering) at their edges, and the detectors' configuration."""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from churnguard_ops.core.registry import PluginSpecError
from churnguard_ops.security.cloudtrail import normalize
from churnguard_ops.security.detectors import DETECTORS
from tests.unit.test_security_cloudtrail import (
    ACCOUNT,
    DR_ACCOUNT,
    FOREIGN,
    SNAPSHOT,
    changed,
    judge,
    record,
    sample,
)

# --- s3_public_access -------------------------------------------------------------------------------------------


def test_public_access_block_deleted() -> None:
    finding = judge("s3_public_access", normalize(sample("s3-delete-public-access-block.json")))
    assert finding is not None and finding.entity == "churnguard-exports"


@pytest.mark.parametrize(("flags", "public"), [
    ({"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
     False),
    ({"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True},
     True),
    ({"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True}, True),  # omitted = false
])
def test_put_public_access_block(flags: dict[str, bool], public: bool) -> None:
    raw = copy.deepcopy(record("s3-delete-public-access-block.json"))
    raw["eventName"] = "PutPublicAccessBlock"
    raw["requestParameters"]["PublicAccessBlockConfiguration"] = {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", **flags}
    assert (judge("s3_public_access", normalize(raw)) is not None) is public


def test_account_public_access_block_deleted() -> None:
    raw = copy.deepcopy(record("s3-delete-public-access-block.json"))
    raw.update(eventName="DeleteAccountPublicAccessBlock", requestParameters={"accountId": ACCOUNT})
    finding = judge("s3_public_access", normalize(raw))
    assert finding is not None and finding.entity == f"account:{ACCOUNT}"


def test_public_bucket_policy() -> None:
    finding = judge("s3_public_access", normalize(sample("s3-put-bucket-policy-public.json")))
    assert finding is not None
    assert finding.context["reason"] == "bucket policy allows everyone (PublicRead)"


def _policy(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                                 "Resource": "arn:aws:s3:::churnguard-exports/*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize(("policy", "public"), [
    (_policy({"AWS": "*"}), True),
    (_policy({"AWS": ["*"]}), True),
    (json.dumps(_policy("*")), True),                                             # logged as a JSON string
    (_policy({"AWS": f"arn:aws:iam::{DR_ACCOUNT}:root"}), False),
    (_policy({"Service": "cloudtrail.amazonaws.com"}), False),
    (_policy("*", {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}), False),
    (_policy("*", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}), False),
    (_policy("*", {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}), False),
    (_policy("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}), True),
    (_policy("*", {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}), True),
    (_policy("*", {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-0a1b2c3d"}}), True),
    (_policy("*", {"StringLike": {"aws:PrincipalArn": "*"}}), True),
    (_policy("*", {"Bool": {"aws:SecureTransport": "true"}}), True),
])
def test_bucket_policy_rule(policy: Any, public: bool) -> None:
    event = changed("s3-put-bucket-policy-public.json", bucketPolicy=policy)
    assert (judge("s3_public_access", event) is not None) is public


def test_public_bucket_acl() -> None:
    finding = judge("s3_public_access", normalize(sample("s3-put-bucket-acl-all-users.json")))
    assert finding is not None and finding.context["reason"] == "ACL grants AllUsers"


@pytest.mark.parametrize(("params", "public"), [
    ({"AccessControlPolicy": None, "x-amz-acl": ["public-read"]}, True),
    ({"AccessControlPolicy": None, "x-amz-acl": ["private"]}, False),
    ({"AccessControlPolicy": None,
      "x-amz-grant-read": ["uri=http://acs.amazonaws.com/groups/global/AuthenticatedUsers"]}, True),
    ({"AccessControlPolicy": {"AccessControlList": {"Grant": {
        "Grantee": {"xsi:type": "CanonicalUser", "ID": "79a59df9"}, "Permission": "FULL_CONTROL"}}}}, False),
])
def test_bucket_acl_shapes(params: dict[str, Any], public: bool) -> None:
    event = changed("s3-put-bucket-acl-all-users.json", **params)
    assert (judge("s3_public_access", event) is not None) is public


# --- snapshot_shared_externally ---------------------------------------------------------------------------------


def test_rds_snapshot_shared_with_a_foreign_account() -> None:
    finding = judge("snapshot_shared_externally", normalize(sample("rds-snapshot-shared-foreign.json")))
    assert finding is not None
    assert finding.entity == SNAPSHOT
    assert (finding.context["shared_with"], finding.context["public"]) == ([FOREIGN], False)


@pytest.mark.parametrize(("values", "shared"), [
    (["all"], True),
    (["ALL"], True),
    ([DR_ACCOUNT, FOREIGN], True),
    ([DR_ACCOUNT], False),
    ([ACCOUNT], False),     # our own account
    ([], False),
])
def test_rds_share_values(values: list[str], shared: bool) -> None:
    event = changed("rds-snapshot-shared-foreign.json", valuesToAdd=values)
    assert (judge("snapshot_shared_externally", event) is not None) is shared


def test_removing_a_share_or_another_attribute_is_not_sharing() -> None:
    assert judge("snapshot_shared_externally",
                 changed("rds-snapshot-shared-foreign.json", valuesToAdd=None, valuesToRemove=[FOREIGN])) is None
    assert judge("snapshot_shared_externally",
                 changed("rds-snapshot-shared-foreign.json", attributeName="other")) is None


def test_allowlist_is_configuration() -> None:
    event = normalize(sample("rds-snapshot-shared-foreign.json"))
    assert judge("snapshot_shared_externally", event, snapshot_share_allowlist=[]) is not None
    assert judge("snapshot_shared_externally", event, snapshot_share_allowlist=[DR_ACCOUNT, FOREIGN]) is None


def test_public_cluster_snapshot_via_eventbridge() -> None:
    finding = judge("snapshot_shared_externally", normalize(sample("eventbridge-api-call.json")))
    assert finding is not None
    assert finding.entity == "churnguard-ops-churnguard-aurora-weekly-2026-w48"
    assert finding.context["public"] is True


@pytest.mark.parametrize(("items", "shared"), [
    ([{"group": "all"}], True),
    ([{"userId": FOREIGN}], True),
    ([{"userId": DR_ACCOUNT}], False),
])
def test_ebs_snapshot_and_ami_permissions(items: list[dict[str, str]], shared: bool) -> None:
    ebs = changed("ebs-snapshot-made-public.json", createVolumePermission={"add": {"items": items}})
    ami = changed("ami-launch-permission-foreign.json", launchPermission={"add": {"items": items}})
    assert (judge("snapshot_shared_externally", ebs) is not None) is shared
    assert (judge("snapshot_shared_externally", ami) is not None) is shared


# --- backup_tampering ------------------------------------------------------------------------------------------------


def test_kms_key_scheduled_for_deletion_or_disabled() -> None:
    finding = judge("backup_tampering", normalize(sample("kms-schedule-key-deletion.json")))
    assert finding is not None
    assert finding.entity == "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
    assert finding.context["reason"] == "key scheduled for deletion in 7 days"
    raw = copy.deepcopy(record("kms-schedule-key-deletion.json"))
    raw.update(eventName="DisableKey", requestParameters={"keyId": "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"})
    assert judge("backup_tampering", normalize(raw)) is not None


@pytest.mark.parametrize(("event_name", "bucket", "status", "tampered"), [
    ("PutBucketVersioning", "churnguard-ops-backups-eu-west-1", "Suspended", True),
    ("PutBucketVersioning", "churnguard-ops-backups-eu-west-1", "Enabled", False),
    ("PutBucketVersioning", "churnguard-exports", "Suspended", False),            # not protected
    ("DeleteBucketReplication", "churnguard-ops-backups-eu-west-1", None, True),
    ("DeleteBucketEncryption", "churnguard-ops-backups-eu-west-1", None, True),
    ("DeleteBucketEncryption", "churnguard-exports", None, False),
])
def test_protected_bucket_changes(event_name: str, bucket: str, status: str | None, tampered: bool) -> None:
    raw = copy.deepcopy(record("s3-suspend-versioning-protected.json"))
    raw["eventName"] = event_name
    raw["requestParameters"]["bucketName"] = bucket
    if status:
        raw["requestParameters"]["VersioningConfiguration"]["Status"] = status
    assert (judge("backup_tampering", normalize(raw)) is not None) is tampered


def test_our_snapshot_deleted_by_someone_else() -> None:
    finding = judge("backup_tampering", normalize(sample("rds-delete-our-snapshot.json")))
    assert finding is not None
    assert finding.entity == SNAPSHOT
    assert f"arn:aws:iam::{ACCOUNT}:user/alice" in finding.context["reason"]


def test_snapshot_deletes_that_are_not_tampering() -> None:
    assert judge("backup_tampering", normalize(sample("rds-delete-snapshot-by-backup-role.json"))) is None
    other = changed("rds-delete-our-snapshot.json", dBSnapshotIdentifier="manual-before-upgrade")
    assert judge("backup_tampering", other) is None


def test_snapshot_identifier_arn_and_cluster_snapshots() -> None:
    arn = f"arn:aws:rds:eu-west-1:{ACCOUNT}:snapshot:{SNAPSHOT}"
    assert judge("backup_tampering", changed("rds-delete-our-snapshot.json", dBSnapshotIdentifier=arn)) is not None
    raw = copy.deepcopy(record("rds-delete-our-snapshot.json"))
    raw.update(eventName="DeleteDBClusterSnapshot",
               requestParameters={"dBClusterSnapshotIdentifier": "churnguard-ops-aurora-weekly-2026-w48"})
    assert judge("backup_tampering", normalize(raw)) is not None


def test_backup_role_patterns_are_configuration() -> None:
    by_backup = normalize(sample("rds-delete-snapshot-by-backup-role.json"))
    only_drill = ["arn:aws:iam::*:role/churnguard-ops-drill*"]
    assert judge("backup_tampering", by_backup, backup_role_arn_patterns=only_drill) is not None
    # A user named like the role is not the role.
    raw = copy.deepcopy(record("rds-delete-our-snapshot.json"))
    raw["userIdentity"]["arn"] = f"arn:aws:iam::{ACCOUNT}:user/churnguard-ops-backup-function-role"
    assert judge("backup_tampering", normalize(raw)) is not None


# --- configuration ---------------------------------------------------------------------------------------------


def test_params_defaults() -> None:
    backup = DETECTORS.validate("backup_tampering")
    assert backup.model_dump() == {"protected_buckets": frozenset(), "snapshot_prefix": "churnguard-ops-",
                                   "backup_role_arn_patterns": ("arn:aws:iam::*:role/churnguard-ops-backup*",)}
    assert DETECTORS.validate("snapshot_shared_externally").model_dump() == {"snapshot_share_allowlist": frozenset()}
    assert DETECTORS.validate("console_brute_force").model_dump() == {
        "threshold": 5, "window_seconds": 300, "max_entries": 1000, "allow_cidrs": []}


@pytest.mark.parametrize(("detector", "params", "field"), [
    ("snapshot_shared_externally", {"snapshot_share_allowlist": ["12345"]}, "snapshot_share_allowlist"),
    ("backup_tampering", {"backup_role_arn_patterns": ["churnguard-ops-backup"]}, "backup_role_arn_patterns"),
    ("backup_tampering", {"snapshot_prefix": ""}, "snapshot_prefix"),
    ("backup_tampering", {"protected_bucket": ["x"]}, "protected_bucket"),
    ("backup_tampering", {"snapshot_share_allowlist": ["210987654321"]}, "snapshot_share_allowlist"),  # not its own
    ("root_activity", {"protected_buckets": ["x"]}, "protected_buckets"),
    ("console_brute_force", {"allow_cidrs": ["10.0.0.300/8"]}, "allow_cidrs"),
    ("console_brute_force", {"threshold": 0}, "threshold"),
])
def test_params_refuse_mistakes_naming_the_field(detector: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(PluginSpecError, match=field) as caught:
        DETECTORS.validate(detector, params)
    assert detector in str(caught.value)
