"""The embedded Inspector2's own logic, without a server: seeding refuses what Inspector never returns, updates
emit the "Inspector2 Finding" event in its own time format (which the on_finding handler's model accepts), and
ListFindings / ListCoverage answer filters, sorts and pages as the API does."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from churnguard_ops.vulns.events import InspectorFindingEvent
from churnguard_ops.vulns.normalize.common import parse_time
from opsctl.local.inspector2 import ApiError, EmbeddedInspector2, event_time

REGION = "us-east-1"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def finding(n: int, function: str = "churnguard-ops-api", *, severity: str = "HIGH", status: str = "ACTIVE",
            updated: datetime = T0) -> dict[str, Any]:
    return {
        "findingArn": f"arn:aws:inspector2:{REGION}:123456789012:finding/f{n}", "type": "PACKAGE_VULNERABILITY",
        "severity": severity, "status": status, "firstObservedAt": T0, "lastObservedAt": T0, "updatedAt": updated,
        "resources": [{"type": "AWS_LAMBDA_FUNCTION", "id": f"arn:aws:lambda:{REGION}:123456789012:function:{function}",
                       "details": {"awsLambdaFunction": {"functionName": function}}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": f"CVE-2026-{n:04d}", "source": "NVD",
                                        "vulnerablePackages": [{"name": "urllib3", "version": "1.26.18"}]},
    }


def test_a_seeded_finding_without_what_inspector_always_returns_is_refused_naming_it() -> None:
    broken = finding(1)
    del broken["updatedAt"]
    with pytest.raises(ValueError, match="missing updatedAt"):
        EmbeddedInspector2().seed_findings([broken])
    with pytest.raises(ValueError, match="status must be one of"):
        EmbeddedInspector2().seed_findings([finding(2, status="OPEN")])


def test_an_update_emits_the_inspector2_finding_event_the_handler_accepts() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    inspector = EmbeddedInspector2(emit=lambda region, event: events.append((region, dict(event))))
    [arn] = inspector.seed_findings([finding(1)])
    inspector.update_finding(arn, status="CLOSED", updated_at=T0 + timedelta(hours=3, milliseconds=627))
    region, event = events[-1]
    assert region == REGION and event["detail"]["status"] == "CLOSED"
    assert event["detail"]["updatedAt"] == "Fri Nov 20 12:00:00.627 UTC 2026"  # Inspector's event time format
    parsed = InspectorFindingEvent.model_validate(event)
    assert parse_time(parsed.detail.updatedAt, "updatedAt") == T0 + timedelta(hours=3, milliseconds=627)


def test_event_time_is_inspectors_java_date_form() -> None:
    moment = datetime(2024, 9, 4, 16, 50, 37, 627000, tzinfo=timezone.utc)
    assert event_time(moment) == "Wed Sep 04 16:50:37.627 UTC 2024"


def test_list_findings_filters_by_prefix_status_and_updated_at_range() -> None:
    inspector = EmbeddedInspector2()
    inspector.seed_findings([finding(1, updated=T0), finding(2, status="CLOSED", updated=T0 + timedelta(hours=1)),
                             finding(3, "other-function", updated=T0 + timedelta(hours=1)),
                             finding(4, status="SUPPRESSED", updated=T0 + timedelta(hours=2))])
    body = {"filterCriteria": {
        "lambdaFunctionName": [{"comparison": "PREFIX", "value": "churnguard-ops-"}],
        "findingStatus": [{"comparison": "EQUALS", "value": "CLOSED"}, {"comparison": "EQUALS", "value": "SUPPRESSED"}],
        "updatedAt": [{"startInclusive": (T0 + timedelta(hours=1)).timestamp()}]}}
    answer = inspector.answer("findings", REGION, body)
    assert [f["findingArn"][-2:] for f in answer["findings"]] == ["f2", "f4"]
    assert answer["findings"][0]["updatedAt"] == (T0 + timedelta(hours=1)).timestamp()  # rest-json epoch seconds
    assert inspector.answer("findings", "eu-west-1", {}) == {"findings": []}  # records belong to their ARN's region


def test_not_equals_excludes_and_severity_sorts_descending() -> None:
    inspector = EmbeddedInspector2()
    inspector.seed_findings([finding(1, severity="LOW"), finding(2, severity="CRITICAL"), finding(3, severity="HIGH")])
    answer = inspector.answer("findings", REGION, {
        "filterCriteria": {"severity": [{"comparison": "NOT_EQUALS", "value": "HIGH"}]},
        "sortCriteria": {"field": "SEVERITY", "sortOrder": "DESC"}})
    assert [f["severity"] for f in answer["findings"]] == ["CRITICAL", "LOW"]


@pytest.mark.parametrize(("kind", "body", "message"), [
    ("findings", {"maxResults": 101}, "maxResults must be between 1 and 100"),
    ("coverage", {"maxResults": 201}, "maxResults must be between 1 and 200"),
    ("coverage", {"filterCriteria": {"lambdaFunctionName": [{"comparison": "PREFIX", "value": "c"}]}},
     r"comparison \(EQUALS, NOT_EQUALS\)"),  # ListCoverage has no PREFIX
    ("findings", {"sortCriteria": {"field": "UPDATED_AT"}}, "sortCriteria: field one of"),
    ("findings", {"filterCriteria": {"updatedAt": [{}]}}, "startInclusive or endInclusive"),
    ("findings", {"nextToken": "garbage"}, "nextToken is not a token"),
])
def test_requests_the_api_refuses_are_validation_errors(kind: str, body: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError, match=message) as refused:
        EmbeddedInspector2().answer(kind, REGION, body)
    assert refused.value.code == "ValidationException"


def test_list_coverage_pages_and_filters_by_scan_status() -> None:
    inspector = EmbeddedInspector2()
    inspector.seed_coverage([
        {"resourceId": f"arn:aws:lambda:{REGION}:123456789012:function:fn{n}", "resourceType": "AWS_LAMBDA_FUNCTION",
         "scanType": "PACKAGE", "scanStatus": {"statusCode": "INACTIVE" if n % 2 else "ACTIVE",
                                               "reason": "STALE_INVENTORY" if n % 2 else "SUCCESSFUL"}}
        for n in range(5)])
    inactive = {"filterCriteria": {"scanStatusCode": [{"comparison": "EQUALS", "value": "INACTIVE"}]},
                "maxResults": 1}
    first = inspector.answer("coverage", REGION, inactive)
    second = inspector.answer("coverage", REGION, {**inactive, "nextToken": first["nextToken"]})
    assert [r["resourceId"][-3:] for r in first["coveredResources"] + second["coveredResources"]] == ["fn1", "fn3"]
    assert "nextToken" not in second
