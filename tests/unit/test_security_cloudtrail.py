"""CloudTrail: records normalized into the engine's Event, and each predicate judged on real-shaped samples."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.security import cloudtrail as ct
from churnguard_ops.security.cloudtrail import CloudTrailRules, Finding, normalize
from churnguard_ops.security.model import Event
from tests.events import EVENTS_DIR, load_event

SAMPLES = EVENTS_DIR / "security" / "cloudtrail"
ACCOUNT, DR_ACCOUNT, FOREIGN = "123456789012", "210987654321", "444455556666"
SNAPSHOT = "churnguard-ops-churnguard-prod-daily-2026-11-28"
RULES = CloudTrailRules(snapshot_share_allowlist=frozenset({DR_ACCOUNT}),
                        protected_buckets=frozenset({"churnguard-ops-backups-*"}))

#: What each sample must trigger, and nothing else (``console_login_failed`` is checked on its own).
EXPECTED: dict[str, set[str]] = {
    "root-console-login.json": {"root_activity"},
    "root-invoked-by-service.json": set(),
    "root-console-login-failed.json": set(),
    "console-login-failed.json": set(),
    "iam-attach-admin-policy.json": {"admin_policy_attached"},
    "iam-put-user-policy-star.json": {"admin_policy_attached"},
    "cloudtrail-stop-logging.json": {"cloudtrail_tampering"},
    "cloudtrail-event-selectors-cut.json": {"cloudtrail_tampering"},
    "ec2-sg-ingress-open-world.json": {"security_group_open_to_world"},
    "ec2-sg-rule-modified-ipv6-world.json": {"security_group_open_to_world"},
    "s3-delete-public-access-block.json": {"s3_public_access"},
    "s3-put-bucket-policy-public.json": {"s3_public_access"},
    "s3-put-bucket-acl-all-users.json": {"s3_public_access"},
    "rds-snapshot-shared-foreign.json": {"snapshot_shared_externally"},
    "rds-snapshot-shared-allowlisted.json": set(),
    "rds-snapshot-share-denied.json": set(),
    "ebs-snapshot-made-public.json": {"snapshot_shared_externally"},
    "ami-launch-permission-foreign.json": {"snapshot_shared_externally"},
    "kms-schedule-key-deletion.json": {"backup_tampering"},
    "s3-suspend-versioning-protected.json": {"backup_tampering"},
    "rds-delete-our-snapshot.json": {"backup_tampering"},
    "rds-delete-snapshot-by-backup-role.json": set(),
    "eventbridge-api-call.json": {"snapshot_shared_externally"},
    "eventbridge-console-sign-in.json": set(),
}
SEVERITY = {"root_activity": "critical", "admin_policy_attached": "high", "cloudtrail_tampering": "critical",
            "security_group_open_to_world": "high", "s3_public_access": "high",
            "snapshot_shared_externally": "critical", "backup_tampering": "critical"}


def sample(name: str) -> dict[str, Any]:
    return load_event(f"security/cloudtrail/{name}")


def record(name: str) -> dict[str, Any]:
    """The CloudTrail record of a sample (the ``detail`` of an EventBridge envelope)."""
    document = sample(name)
    return document["detail"] if "detail-type" in document else document


def changed(name: str, **params: Any) -> Event:
    """A sample with ``requestParameters`` keys replaced (``None`` removes one)."""
    raw = copy.deepcopy(record(name))
    for key, value in params.items():
        if value is None:
            raw["requestParameters"].pop(key, None)
        else:
            raw["requestParameters"][key] = value
    return normalize(raw)


def detections(event: Event, rules: CloudTrailRules = RULES) -> dict[str, Finding]:
    found = {name: predicate(event, rules) for name, predicate in ct.PREDICATES.items()}
    return {name: finding for name, finding in found.items() if finding is not None}


# --- samples -----------------------------------------------------------------------------------------------------


def test_every_sample_has_an_expectation() -> None:
    files = {path.name for path in SAMPLES.glob("*.json")} - {"log-file.json"}
    assert files == set(EXPECTED)


def test_the_predicates_are_the_issue_s_detectors() -> None:
    assert set(ct.PREDICATES) == set(SEVERITY)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_triggers_exactly_its_detectors(name: str) -> None:
    found = detections(normalize(sample(name)))
    assert set(found) == EXPECTED[name]
    for detector, finding in found.items():
        assert finding.detector == detector
        assert finding.severity == SEVERITY[detector]
        assert finding.entity and finding.recommended_action
        assert finding.context["event_id"] == record(name)["eventID"]
        json.dumps(finding.context)  # stored and published as JSON


@pytest.mark.parametrize("name", sorted(name for name, found in EXPECTED.items() if found))
def test_a_failed_call_is_never_the_act(name: str) -> None:
    raw = copy.deepcopy(record(name))
    raw.update(errorCode="AccessDenied", errorMessage="not authorized")
    assert detections(normalize(raw)) == {}


# --- normalize -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_normalize_maps_the_record_fields(name: str) -> None:
    raw = record(name)
    event = normalize(sample(name))
    assert isinstance(event, Event)
    assert event.kind == "cloudtrail"
    assert event.event_id == raw["eventID"]
    assert event.type == raw["eventName"]
    assert event.time == datetime.fromisoformat(raw["eventTime"].replace("Z", "+00:00"))
    assert event.time.tzinfo is not None and event.time.utcoffset() == timezone.utc.utcoffset(None)
    assert event.source_ip == raw["sourceIPAddress"]
    assert event.organization_id is None
    assert event.raw == raw
    assert event.details["eventSource"] == raw["eventSource"]
    assert event.details["recipientAccountId"] == ACCOUNT
    assert event.details["requestParameters"] == raw["requestParameters"]
    assert event.details["responseElements"] == raw["responseElements"]
    assert event.details["userIdentity"]["type"] == raw["userIdentity"]["type"]
    assert event.details["errorCode"] == raw.get("errorCode")


@pytest.mark.parametrize(("name", "user_id"), [
    ("root-console-login.json", f"root:{ACCOUNT}"),
    ("root-invoked-by-service.json", f"root:{ACCOUNT}"),
    ("console-login-failed.json", f"arn:aws:iam::{ACCOUNT}:user/alice"),  # no arn in a failed sign-in: built
    ("iam-put-user-policy-star.json", f"arn:aws:iam::{ACCOUNT}:user/alice"),
    ("iam-attach-admin-policy.json", f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
                                     "AWSReservedSSO_AdministratorAccess_0f3b6c1d2e4a5b69"),
    ("rds-delete-snapshot-by-backup-role.json", f"arn:aws:iam::{ACCOUNT}:role/churnguard-ops-backup-function-role"),
])
def test_user_id_is_a_stable_principal(name: str, user_id: str) -> None:
    assert normalize(sample(name)).user_id == user_id


def test_user_id_of_services_accounts_and_hidden_names() -> None:
    raw = copy.deepcopy(record("kms-schedule-key-deletion.json"))
    raw["userIdentity"] = {"type": "AWSService", "invokedBy": "backup.amazonaws.com"}
    assert normalize(raw).user_id == "service:backup.amazonaws.com"
    raw["userIdentity"] = {"type": "AWSAccount", "principalId": "AIDA5EXAMPLEOTHER001", "accountId": FOREIGN}
    assert normalize(raw).user_id == f"account:{FOREIGN}"
    raw = copy.deepcopy(record("console-login-failed.json"))
    raw["userIdentity"]["userName"] = "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert normalize(raw).user_id is None


def test_service_principal_source_is_kept_and_flagged() -> None:
    event = normalize(sample("root-invoked-by-service.json"))
    assert event.source_ip == "cloudformation.amazonaws.com"
    assert event.details["sourceIsAwsService"] is True
    assert normalize(sample("root-console-login.json")).details["sourceIsAwsService"] is False


def test_event_time_with_an_offset_becomes_utc() -> None:
    raw = copy.deepcopy(record("root-console-login.json"))
    raw["eventTime"] = "2026-11-28T12:02:11+02:00"
    assert normalize(raw).time == datetime(2026, 11, 28, 10, 2, 11, tzinfo=timezone.utc)


def test_an_eventbridge_envelope_is_unwrapped() -> None:
    envelope = sample("eventbridge-api-call.json")
    event = normalize(envelope)
    assert event.raw == envelope["detail"]
    assert event.type == "ModifyDBClusterSnapshotAttribute"


def test_a_log_file_yields_each_record_in_order() -> None:
    log = sample("log-file.json")
    events = [normalize(raw) for raw in ct.iter_records(log)]
    assert [event.event_id for event in events] == [raw["eventID"] for raw in log["Records"]]
    assert [sorted(detections(event)) for event in events] == [
        [], ["snapshot_shared_externally"], [], ["snapshot_shared_externally"], ["security_group_open_to_world"]]
    assert list(ct.iter_records(sample("eventbridge-console-sign-in.json"))) == [
        sample("eventbridge-console-sign-in.json")["detail"]]


def _refusal(document: Any) -> str:
    with pytest.raises(ValueError) as caught:  # pydantic's ValidationError is a ValueError too
        normalize(document)
    return str(caught.value)


@pytest.mark.parametrize(("change", "field"), [
    ({"eventID": None}, "eventID"),
    ({"eventID": ""}, "eventID"),
    ({"eventTime": None}, "eventTime"),
    ({"eventTime": "yesterday"}, "eventTime"),
    ({"eventTime": 1764324131}, "eventTime"),
    ({"eventName": ""}, "eventName"),
    ({"eventSource": None}, "eventSource"),
    ({"userIdentity": None}, "userIdentity"),
    ({"userIdentity": "root"}, "userIdentity"),
    ({"resources": "arn:aws:kms:eu-west-1:123456789012:key/x"}, "resources"),
])
def test_a_malformed_record_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    raw = copy.deepcopy(record("kms-schedule-key-deletion.json"))
    for key, value in change.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    with pytest.raises(ValidationError) as caught:
        normalize(raw)
    assert field in str(caught.value)


def test_malformed_documents_are_refused_naming_what_is_wrong() -> None:
    envelope = sample("eventbridge-api-call.json")
    assert "detail-type" in _refusal({**envelope, "detail-type": "EC2 Instance State-change Notification"})
    assert "detail:" in _refusal({**envelope, "detail": "not an object"})
    assert "Records" in _refusal(sample("log-file.json"))
    assert "JSON object" in _refusal(["not", "a", "record"])
    with pytest.raises(ValueError, match="Records: must be a list"):
        list(ct.iter_records({"Records": {"eventID": "x"}}))


# --- root_activity and console sign-ins ------------------------------------------------------------------------


def test_root_console_sign_in_is_root_activity() -> None:
    finding = ct.root_activity(normalize(sample("root-console-login.json")), RULES)
    assert finding is not None
    assert finding.entity == f"root:{ACCOUNT}"
    assert finding.context["action"] == "signed in to the console"
    assert finding.context["mfa_used"] == "No"


def test_root_api_call_is_root_activity_even_read_only() -> None:
    raw = copy.deepcopy(record("root-invoked-by-service.json"))
    raw["userIdentity"].pop("invokedBy")
    raw.update(sourceIPAddress="203.0.113.9", eventName="ListBuckets", readOnly=True, requestParameters=None)
    finding = ct.root_activity(normalize(raw), RULES)
    assert finding is not None and finding.context["action"] == "called an API"


def test_a_service_acting_for_root_or_an_aws_service_event_is_not_root_activity() -> None:
    assert ct.root_activity(normalize(sample("root-invoked-by-service.json")), RULES) is None
    raw = copy.deepcopy(record("root-console-login.json"))
    raw["eventType"] = "AwsServiceEvent"
    assert ct.root_activity(normalize(raw), RULES) is None


@pytest.mark.parametrize(("name", "failed"), [
    ("console-login-failed.json", True),
    ("root-console-login-failed.json", True),
    ("eventbridge-console-sign-in.json", True),
    ("root-console-login.json", False),
    ("iam-attach-admin-policy.json", False),
])
def test_console_login_failed(name: str, failed: bool) -> None:
    assert ct.console_login_failed(normalize(sample(name))) is failed


def test_console_login_failure_is_read_from_either_section() -> None:
    raw = copy.deepcopy(record("console-login-failed.json"))
    raw.pop("errorMessage")
    raw["responseElements"] = None
    assert ct.console_login_failed(normalize(raw)) is False
    raw["additionalEventData"]["ConsoleLogin"] = "Failure"
    assert ct.console_login_failed(normalize(raw)) is True


# --- admin_policy_attached ---------------------------------------------------------------------------------------

STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}]}


def test_administrator_access_attached_to_a_role() -> None:
    finding = ct.admin_policy_attached(normalize(sample("iam-attach-admin-policy.json")), RULES)
    assert finding is not None
    assert finding.entity == f"arn:aws:iam::{ACCOUNT}:role/churnguard-api-task-role"
    assert finding.context["how"] == "managed"


def test_inline_star_policy_url_encoded_is_admin() -> None:
    finding = ct.admin_policy_attached(normalize(sample("iam-put-user-policy-star.json")), RULES)
    assert finding is not None
    assert finding.entity == f"arn:aws:iam::{ACCOUNT}:user/ci-deployer"
    assert finding.context["policy"] == "inline:break-glass"


@pytest.mark.parametrize(("document", "admin"), [
    (json.dumps(STAR), True),                                                   # JSON string, lists
    (json.dumps(STAR, indent=2), True),
    (STAR, True),                                                               # already an object
    ({"Statement": {"Effect": "Allow", "Action": "*:*", "Resource": "*"}}, True),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}, False),
    ({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}, False),
    ({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}, False),
    ("not a policy", False),
])
def test_inline_policy_documents(document: Any, admin: bool) -> None:
    event = changed("iam-put-user-policy-star.json", policyDocument=document)
    assert (ct.admin_policy_attached(event, RULES) is not None) is admin


def test_other_managed_policies_are_not_admin() -> None:
    event = changed("iam-attach-admin-policy.json", policyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert ct.admin_policy_attached(event, RULES) is None


def test_customer_managed_star_policy_version() -> None:
    raw = copy.deepcopy(record("iam-put-user-policy-star.json"))
    raw.update(eventName="CreatePolicyVersion", requestParameters={
        "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/deployer", "policyDocument": json.dumps(STAR),
        "setAsDefault": True})
    finding = ct.admin_policy_attached(normalize(raw), RULES)
    assert finding is not None and finding.entity == f"arn:aws:iam::{ACCOUNT}:policy/deployer"


# --- cloudtrail_tampering --------------------------------------------------------------------------------------


def test_stop_logging_and_delete_trail() -> None:
    event = normalize(sample("cloudtrail-stop-logging.json"))
    finding = ct.cloudtrail_tampering(event, RULES)
    assert finding is not None
    assert finding.entity == f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/churnguard-org-trail"
    raw = copy.deepcopy(record("cloudtrail-stop-logging.json"))
    raw["eventName"] = "DeleteTrail"
    assert ct.cloudtrail_tampering(normalize(raw), RULES) is not None


def _selectors(*selectors: dict[str, Any]) -> Event:
    return changed("cloudtrail-event-selectors-cut.json", eventSelectors=list(selectors))


@pytest.mark.parametrize(("selectors", "cut"), [
    ([{"readWriteType": "All", "includeManagementEvents": True}], False),
    ([{"includeManagementEvents": True}], False),                                       # defaults: All
    ([{"readWriteType": "ReadOnly", "includeManagementEvents": True},
      {"readWriteType": "WriteOnly", "includeManagementEvents": True}], False),
    ([{"readWriteType": "All", "includeManagementEvents": True},
      {"readWriteType": "All", "includeManagementEvents": False,
       "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}]}], False),
    ([{"readWriteType": "WriteOnly", "includeManagementEvents": True}], True),
    ([{"readWriteType": "All", "includeManagementEvents": False}], True),
    ([{"readWriteType": "All", "includeManagementEvents": True,
       "excludeManagementEventSources": ["kms.amazonaws.com"]}], True),
])
def test_event_selectors_cut_down(selectors: list[dict[str, Any]], cut: bool) -> None:
    assert (ct.cloudtrail_tampering(_selectors(*selectors), RULES) is not None) is cut


MANAGEMENT = {"field": "eventCategory", "equals": ["Management"]}


@pytest.mark.parametrize(("selectors", "cut"), [
    ([{"name": "all management", "fieldSelectors": [MANAGEMENT]}], False),
    ([{"fieldSelectors": [MANAGEMENT, {"field": "readOnly", "equals": ["true"]}]},
      {"fieldSelectors": [MANAGEMENT, {"field": "readOnly", "equals": ["false"]}]}], False),
    ([{"fieldSelectors": [MANAGEMENT, {"field": "readOnly", "equals": ["true"]}]}], True),
    ([{"fieldSelectors": [MANAGEMENT, {"field": "eventSource", "notEquals": ["kms.amazonaws.com"]}]}], True),
    ([{"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                          {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}], True),
])
def test_advanced_event_selectors_cut_down(selectors: list[dict[str, Any]], cut: bool) -> None:
    raw = copy.deepcopy(record("cloudtrail-event-selectors-cut.json"))
    raw.update(eventName="PutAdvancedEventSelectors",
               requestParameters={"trailName": "churnguard-org-trail", "advancedEventSelectors": selectors})
    assert (ct.cloudtrail_tampering(normalize(raw), RULES) is not None) is cut


@pytest.mark.parametrize(("params", "cut"), [
    ({"name": "churnguard-org-trail", "isMultiRegionTrail": False}, True),
    ({"name": "churnguard-org-trail", "includeGlobalServiceEvents": False}, True),
    ({"name": "churnguard-org-trail", "s3BucketName": "churnguard-trail-logs", "isMultiRegionTrail": True}, False),
])
def test_update_trail_narrowing(params: dict[str, Any], cut: bool) -> None:
    raw = copy.deepcopy(record("cloudtrail-stop-logging.json"))
    raw.update(eventName="UpdateTrail", requestParameters=params)
    assert (ct.cloudtrail_tampering(normalize(raw), RULES) is not None) is cut


# --- security_group_open_to_world --------------------------------------------------------------------------------


def test_ingress_from_anywhere() -> None:
    finding = ct.security_group_open_to_world(normalize(sample("ec2-sg-ingress-open-world.json")), RULES)
    assert finding is not None
    assert finding.entity == "sg-0a1b2c3d4e5f60718"
    assert finding.context["openings"] == [{"cidr": "0.0.0.0/0", "protocol": "tcp", "from_port": 5432,
                                            "to_port": 5432}]


def test_modified_rule_to_ipv6_anywhere() -> None:
    finding = ct.security_group_open_to_world(normalize(sample("ec2-sg-rule-modified-ipv6-world.json")), RULES)
    assert finding is not None
    assert finding.entity == "sg-0f9e8d7c6b5a40312"
    assert finding.context["openings"][0]["cidr"] == "::/0"


def _permission(**ranges: Any) -> dict[str, Any]:
    return {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {}, "ipRanges": {},
                       "ipv6Ranges": {}, "prefixListIds": {}, **ranges}]}


@pytest.mark.parametrize(("params", "open_"), [
    ({"ipPermissions": _permission(ipRanges={"items": [{"cidrIp": "10.0.0.0/8"}]})}, False),
    ({"ipPermissions": _permission(ipv6Ranges={"items": [{"cidrIpv6": "::/0"}]})}, True),
    ({"ipPermissions": _permission(ipRanges={"items": [{"cidrIp": "192.0.2.0/24"}, {"cidrIp": "0.0.0.0/0"}]})}, True),
    ({"ipPermissions": _permission(groups={"items": [{"groupId": "sg-0123"}]})}, False),
    ({"ipPermissions": None, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIp": "0.0.0.0/0"}, True),
])
def test_ingress_request_shapes(params: dict[str, Any], open_: bool) -> None:
    event = changed("ec2-sg-ingress-open-world.json", **params)
    assert (ct.security_group_open_to_world(event, RULES) is not None) is open_


# --- s3_public_access -------------------------------------------------------------------------------------------


def test_public_access_block_deleted() -> None:
    finding = ct.s3_public_access(normalize(sample("s3-delete-public-access-block.json")), RULES)
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
    assert (ct.s3_public_access(normalize(raw), RULES) is not None) is public


def test_account_public_access_block_deleted() -> None:
    raw = copy.deepcopy(record("s3-delete-public-access-block.json"))
    raw.update(eventName="DeleteAccountPublicAccessBlock", requestParameters={"accountId": ACCOUNT})
    finding = ct.s3_public_access(normalize(raw), RULES)
    assert finding is not None and finding.entity == f"account:{ACCOUNT}"


def test_public_bucket_policy() -> None:
    finding = ct.s3_public_access(normalize(sample("s3-put-bucket-policy-public.json")), RULES)
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
    assert (ct.s3_public_access(event, RULES) is not None) is public


def test_public_bucket_acl() -> None:
    finding = ct.s3_public_access(normalize(sample("s3-put-bucket-acl-all-users.json")), RULES)
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
    assert (ct.s3_public_access(event, RULES) is not None) is public


# --- snapshot_shared_externally ---------------------------------------------------------------------------------


def test_rds_snapshot_shared_with_a_foreign_account() -> None:
    finding = ct.snapshot_shared_externally(normalize(sample("rds-snapshot-shared-foreign.json")), RULES)
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
    assert (ct.snapshot_shared_externally(event, RULES) is not None) is shared


def test_removing_a_share_or_another_attribute_is_not_sharing() -> None:
    assert ct.snapshot_shared_externally(
        changed("rds-snapshot-shared-foreign.json", valuesToAdd=None, valuesToRemove=[FOREIGN]), RULES) is None
    assert ct.snapshot_shared_externally(
        changed("rds-snapshot-shared-foreign.json", attributeName="other"), RULES) is None


def test_allowlist_is_configuration() -> None:
    event = normalize(sample("rds-snapshot-shared-foreign.json"))
    assert ct.snapshot_shared_externally(event, CloudTrailRules()) is not None
    widened = CloudTrailRules(snapshot_share_allowlist=frozenset({DR_ACCOUNT, FOREIGN}))
    assert ct.snapshot_shared_externally(event, widened) is None


def test_public_cluster_snapshot_via_eventbridge() -> None:
    finding = ct.snapshot_shared_externally(normalize(sample("eventbridge-api-call.json")), RULES)
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
    assert (ct.snapshot_shared_externally(ebs, RULES) is not None) is shared
    assert (ct.snapshot_shared_externally(ami, RULES) is not None) is shared


# --- backup_tampering ------------------------------------------------------------------------------------------------


def test_kms_key_scheduled_for_deletion_or_disabled() -> None:
    finding = ct.backup_tampering(normalize(sample("kms-schedule-key-deletion.json")), RULES)
    assert finding is not None
    assert finding.entity == "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
    assert finding.context["reason"] == "key scheduled for deletion in 7 days"
    raw = copy.deepcopy(record("kms-schedule-key-deletion.json"))
    raw.update(eventName="DisableKey", requestParameters={"keyId": "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"})
    assert ct.backup_tampering(normalize(raw), RULES) is not None


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
    assert (ct.backup_tampering(normalize(raw), RULES) is not None) is tampered


def test_our_snapshot_deleted_by_someone_else() -> None:
    finding = ct.backup_tampering(normalize(sample("rds-delete-our-snapshot.json")), RULES)
    assert finding is not None
    assert finding.entity == SNAPSHOT
    assert f"arn:aws:iam::{ACCOUNT}:user/alice" in finding.context["reason"]


def test_snapshot_deletes_that_are_not_tampering() -> None:
    assert ct.backup_tampering(normalize(sample("rds-delete-snapshot-by-backup-role.json")), RULES) is None
    other = changed("rds-delete-our-snapshot.json", dBSnapshotIdentifier="manual-before-upgrade")
    assert ct.backup_tampering(other, RULES) is None


def test_snapshot_identifier_arn_and_cluster_snapshots() -> None:
    arn = f"arn:aws:rds:eu-west-1:{ACCOUNT}:snapshot:{SNAPSHOT}"
    assert ct.backup_tampering(changed("rds-delete-our-snapshot.json", dBSnapshotIdentifier=arn), RULES) is not None
    raw = copy.deepcopy(record("rds-delete-our-snapshot.json"))
    raw.update(eventName="DeleteDBClusterSnapshot",
               requestParameters={"dBClusterSnapshotIdentifier": "churnguard-ops-aurora-weekly-2026-w48"})
    assert ct.backup_tampering(normalize(raw), RULES) is not None


def test_backup_role_patterns_are_configuration() -> None:
    by_backup = normalize(sample("rds-delete-snapshot-by-backup-role.json"))
    only_drill = CloudTrailRules(backup_role_arn_patterns=("arn:aws:iam::*:role/churnguard-ops-drill*",))
    assert ct.backup_tampering(by_backup, only_drill) is not None
    # A user named like the role is not the role.
    raw = copy.deepcopy(record("rds-delete-our-snapshot.json"))
    raw["userIdentity"]["arn"] = f"arn:aws:iam::{ACCOUNT}:user/churnguard-ops-backup-function-role"
    assert ct.backup_tampering(normalize(raw), RULES) is not None


# --- configuration ---------------------------------------------------------------------------------------------


def test_rules_defaults() -> None:
    rules = CloudTrailRules()
    assert rules.snapshot_prefix == "churnguard-ops-"
    assert rules.backup_role_arn_patterns == ("arn:aws:iam::*:role/churnguard-ops-backup*",)
    assert rules.snapshot_share_allowlist == frozenset() and rules.protected_buckets == frozenset()


@pytest.mark.parametrize(("config", "field"), [
    ({"snapshot_share_allowlist": ["12345"]}, "snapshot_share_allowlist"),
    ({"backup_role_arn_patterns": ["churnguard-ops-backup"]}, "backup_role_arn_patterns"),
    ({"snapshot_prefix": ""}, "snapshot_prefix"),
    ({"protected_bucket": ["x"]}, "protected_bucket"),
])
def test_rules_refuse_mistakes_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CloudTrailRules.model_validate(config)
    assert field in str(caught.value)
