"""The CloudTrail detectors' rules at their edges (root, IAM, the trail, security groups), on real-shaped samples.

S3, snapshots and backups: ``test_security_cloudtrail_storage.py``.
"""
from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from churnguard_ops.security import cloudtrail as ct
from churnguard_ops.security.cloudtrail import normalize
from churnguard_ops.security.model import Event
from tests.unit.test_security_cloudtrail import (
    ACCOUNT,
    changed,
    judge,
    record,
    sample,
)

# --- root_activity and console sign-ins ------------------------------------------------------------------------


def test_root_console_sign_in_is_root_activity() -> None:
    finding = judge("root_activity", normalize(sample("root-console-login.json")))
    assert finding is not None
    assert finding.entity == f"root:{ACCOUNT}"
    assert finding.context["action"] == "signed in to the console"
    assert finding.context["mfa_used"] == "No"


def test_root_api_call_is_root_activity_even_read_only() -> None:
    raw = copy.deepcopy(record("root-invoked-by-service.json"))
    raw["userIdentity"].pop("invokedBy")
    raw.update(sourceIPAddress="203.0.113.9", eventName="ListBuckets", readOnly=True, requestParameters=None)
    finding = judge("root_activity", normalize(raw))
    assert finding is not None and finding.context["action"] == "called an API"


def test_a_service_acting_for_root_or_an_aws_service_event_is_not_root_activity() -> None:
    assert judge("root_activity", normalize(sample("root-invoked-by-service.json"))) is None
    raw = copy.deepcopy(record("root-console-login.json"))
    raw["eventType"] = "AwsServiceEvent"
    assert judge("root_activity", normalize(raw)) is None


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
    finding = judge("admin_policy_attached", normalize(sample("iam-attach-admin-policy.json")))
    assert finding is not None
    assert finding.entity == f"arn:aws:iam::{ACCOUNT}:role/churnguard-api-task-role"
    assert finding.context["how"] == "managed"


def test_inline_star_policy_url_encoded_is_admin() -> None:
    finding = judge("admin_policy_attached", normalize(sample("iam-put-user-policy-star.json")))
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
    assert (judge("admin_policy_attached", event) is not None) is admin


def test_other_managed_policies_are_not_admin() -> None:
    event = changed("iam-attach-admin-policy.json", policyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    assert judge("admin_policy_attached", event) is None


def test_customer_managed_star_policy_version() -> None:
    raw = copy.deepcopy(record("iam-put-user-policy-star.json"))
    raw.update(eventName="CreatePolicyVersion", requestParameters={
        "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/deployer", "policyDocument": json.dumps(STAR),
        "setAsDefault": True})
    finding = judge("admin_policy_attached", normalize(raw))
    assert finding is not None and finding.entity == f"arn:aws:iam::{ACCOUNT}:policy/deployer"


# --- cloudtrail_tampering --------------------------------------------------------------------------------------


def test_stop_logging_and_delete_trail() -> None:
    event = normalize(sample("cloudtrail-stop-logging.json"))
    finding = judge("cloudtrail_tampering", event)
    assert finding is not None
    assert finding.entity == f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/churnguard-org-trail"
    raw = copy.deepcopy(record("cloudtrail-stop-logging.json"))
    raw["eventName"] = "DeleteTrail"
    assert judge("cloudtrail_tampering", normalize(raw)) is not None


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
    assert (judge("cloudtrail_tampering", _selectors(*selectors)) is not None) is cut


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
    assert (judge("cloudtrail_tampering", normalize(raw)) is not None) is cut


@pytest.mark.parametrize(("params", "cut"), [
    ({"name": "churnguard-org-trail", "isMultiRegionTrail": False}, True),
    ({"name": "churnguard-org-trail", "includeGlobalServiceEvents": False}, True),
    ({"name": "churnguard-org-trail", "s3BucketName": "churnguard-trail-logs", "isMultiRegionTrail": True}, False),
])
def test_update_trail_narrowing(params: dict[str, Any], cut: bool) -> None:
    raw = copy.deepcopy(record("cloudtrail-stop-logging.json"))
    raw.update(eventName="UpdateTrail", requestParameters=params)
    assert (judge("cloudtrail_tampering", normalize(raw)) is not None) is cut


# --- security_group_open_to_world --------------------------------------------------------------------------------


def test_ingress_from_anywhere() -> None:
    finding = judge("security_group_open_to_world", normalize(sample("ec2-sg-ingress-open-world.json")))
    assert finding is not None
    assert finding.entity == "sg-0a1b2c3d4e5f60718"
    assert finding.context["openings"] == [{"cidr": "0.0.0.0/0", "protocol": "tcp", "from_port": 5432,
                                            "to_port": 5432}]


def test_modified_rule_to_ipv6_anywhere() -> None:
    finding = judge("security_group_open_to_world", normalize(sample("ec2-sg-rule-modified-ipv6-world.json")))
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
    assert (judge("security_group_open_to_world", event) is not None) is open_
