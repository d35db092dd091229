"""CloudTrail: records normalized into the engine's Event, and each sample judged by the CloudTrail detectors.

The helpers here (``sample``, ``record``, ``changed``, ``judge``) are shared by the other CloudTrail test modules.
"""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.security import cloudtrail as ct
from churnguard_ops.security.cloudtrail import normalize
from churnguard_ops.security.detectors import CLOUDTRAIL_DETECTORS, DETECTORS, DetectorContext, Finding
from churnguard_ops.security.model import Event
from churnguard_ops.security.state import MemoryDetectorState
from tests.events import EVENTS_DIR, load_event

SAMPLES = EVENTS_DIR / "security" / "cloudtrail"
ACCOUNT, DR_ACCOUNT, FOREIGN = "123456789012", "210987654321", "444455556666"
SNAPSHOT = "churnguard-ops-churnguard-prod-daily-2026-11-28"
#: The configuration the samples are judged with (the rest: defaults).
PARAMS: dict[str, dict[str, Any]] = {
    "snapshot_shared_externally": {"snapshot_share_allowlist": [DR_ACCOUNT]},
    "backup_tampering": {"protected_buckets": ["churnguard-ops-backups-*"]},
}

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
            "snapshot_shared_externally": "critical", "backup_tampering": "critical", "console_brute_force": "high"}
#: The detectors that judge one record at a time (``console_brute_force`` counts sign-in failures in a window).
SINGLE_RECORD = [name for name in CLOUDTRAIL_DETECTORS if name != "console_brute_force"]


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


def judge(name: str, event: Event, **params: Any) -> Finding | None:
    """The finding of the one-record detector ``name`` (configured with PARAMS, then ``params``) on ``event``."""
    detector = DETECTORS[name]({**PARAMS.get(name, {}), **params})
    findings = detector.evaluate(event, DetectorContext(state=MemoryDetectorState(), lateness_seconds=900))
    assert len(findings) <= 1
    if findings:
        assert detector.applies(event), f"{name}'s pre-filter would hide its finding on {event.type}"
    return findings[0] if findings else None


def detections(event: Event) -> dict[str, Finding]:
    found = {name: judge(name, event) for name in SINGLE_RECORD}
    return {name: finding for name, finding in found.items() if finding is not None}


# --- samples -----------------------------------------------------------------------------------------------------


def test_every_sample_has_an_expectation() -> None:
    files = {path.name for path in SAMPLES.glob("*.json")} - {"log-file.json"}
    assert files == set(EXPECTED)


def test_the_cloudtrail_detectors_are_the_issue_s_detectors() -> None:
    assert set(CLOUDTRAIL_DETECTORS) == set(SEVERITY)
    assert {name: DETECTORS[name].severity for name in CLOUDTRAIL_DETECTORS} == SEVERITY


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_triggers_exactly_its_detectors(name: str) -> None:
    event = normalize(sample(name))
    found = detections(event)
    assert set(found) == EXPECTED[name]
    for finding in found.values():
        assert finding.entity
        assert (finding.event_id, finding.time, finding.count, finding.window_seconds) == (
            record(name)["eventID"], event.time, 1, 0)
        assert finding.organization_id is None
        assert finding.context["event_id"] == record(name)["eventID"]
        assert finding.context["reason"]
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


@pytest.mark.parametrize("detail_type", sorted(ct.CLOUDTRAIL_DETAIL_TYPES))
def test_every_cloudtrail_detail_type_is_unwrapped(detail_type: str) -> None:
    envelope = {**sample("eventbridge-api-call.json"), "detail-type": detail_type}
    assert normalize(envelope).event_id == envelope["detail"]["eventID"]


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
