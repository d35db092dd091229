"""Amazon Inspector2 as a finding source: ListFindings by ``updatedAt`` and ListCoverage of our functions.

Why ``updatedAt`` and every status: a poller on ``lastObservedAt`` (or on ACTIVE findings) never sees a finding
close or get suppressed, because those transitions do not touch ``lastObservedAt``. ``updatedAt`` moves on
every change, so a poll from the last watermark returns the closed and suppressed findings too.

The watermark is the newest ``updatedAt`` seen. Each poll starts ``overlap`` before it (a finding indexed a
little late, with an ``updatedAt`` just under the watermark, is not lost); what the overlap returns again is
the same observation (same ARN and ``updatedAt``) and is dropped here within a poll, and applied idempotently
by the ledger across polls.

Coverage: Inspector scans a Lambda function only while it is eligible: it silently stops after 90 days
without an invocation or update (``STALE_INVENTORY``), skips unsupported runtimes, functions excluded by tag
and code encrypted with a customer managed key it may not use. Each of our functions (by name prefix, from
Lambda's ListFunctions) that Inspector does not scan is reported as not checked, with the reason; a function
missing from Inspector's coverage altogether is "not in Inspector's coverage".
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

from churnguard_ops.core import aws
from churnguard_ops.core.errors import guarded
from churnguard_ops.vulns.model import Finding, NotChecked
from churnguard_ops.vulns.normalize.common import parse_time
from churnguard_ops.vulns.ports import Poll

LAMBDA_RESOURCE_TYPE = "AWS_LAMBDA_FUNCTION"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NOT_IN_COVERAGE = "not scanned: not in Inspector's coverage"

#: ``scanStatus.reason`` (botocore's inspector2 model, ScanStatusReason) -> what it means for a Lambda function.
SCAN_REASONS: dict[str, str] = {
    "NO_INVENTORY": "Inspector has no inventory of its packages yet",
    "STALE_INVENTORY": "not invoked or updated for 90 days: Inspector stopped scanning it",
    "EXCLUDED_BY_TAG": "excluded from scanning by a tag (InspectorExclusion / InspectorCodeExclusion)",
    "UNSUPPORTED_RUNTIME": "its runtime is not one Inspector scans",
    "UNSUPPORTED_LANGUAGE": "its language is not one Inspector's code scanning supports",
    "UNSUPPORTED_CODE_ARTIFACTS": "its code artifacts are not ones Inspector scans",
    "ACCESS_DENIED_TO_ENCRYPTION_KEY": "its code is encrypted with a customer managed KMS key Inspector may not use",
    "ACCESS_DENIED": "Inspector was denied access to it",
    "PENDING_INITIAL_SCAN": "waiting for its first scan",
    "SCAN_IN_PROGRESS": "its scan is in progress",
    "SCAN_ELIGIBILITY_EXPIRED": "its scan eligibility expired",
    "RESOURCE_TERMINATED": "the function was deleted",
    "PENDING_DISABLE": "Inspector scanning is being turned off",
    "INTERNAL_ERROR": "Inspector failed with an internal error",
    "NO_SCAN_CONFIGURATION_ASSOCIATED": "no scan configuration is associated with it",
    "STORAGE_LIMIT_EXCEEDED": "its package exceeds Inspector's storage limit",
    "EXTRACTION_COLLECTION_TIME_LIMIT_EXCEEDED": "Inspector ran out of time extracting its packages",
    "INVALID_ARTIFACT": "Inspector could not read its deployment package",
}


class FunctionCoverage(BaseModel):
    """One of our functions as Inspector covers it: per scan type (PACKAGE, CODE), scanned or not and why."""

    model_config = ConfigDict(frozen=True)

    function: str
    #: scan type -> ``scanStatus.reason`` (``SUCCESSFUL`` when scanned); empty: not in the coverage at all.
    scans: dict[str, str]
    active: dict[str, bool]

    @property
    def scanned(self) -> bool:
        """The standard (PACKAGE) scan is active and has succeeded."""
        return self.active.get("PACKAGE", False) and self.scans.get("PACKAGE") == "SUCCESSFUL"

    def not_checked(self) -> list[NotChecked]:
        resource = f"function:{self.function}"
        if not self.scans:
            return [NotChecked(resource=resource, reason=NOT_IN_COVERAGE)]
        gaps = []
        for scan_type, reason in sorted(self.scans.items()):
            if self.active.get(scan_type) and reason == "SUCCESSFUL":
                continue
            why = SCAN_REASONS.get(reason, reason.replace("_", " ").lower())
            gaps.append(NotChecked(resource=resource,
                                   reason=f"not scanned ({scan_type.lower()} scan, {reason}): {why}"))
        return gaps


#: One Inspector finding (ListFindings' shape) -> its normalized findings (``normalize.inspector``).
Normalizer = Callable[[Mapping[str, Any]], list[Finding]]


class InspectorSource:
    """The Inspector2 ``FindingSource``: every page of our functions' findings updated since a watermark, all
    statuses, normalized by ``normalize``, plus the coverage gaps of our functions."""

    def __init__(self, normalize: Normalizer, *, function_prefix: str, region: str | None = None,
                 overlap: timedelta = timedelta(minutes=5), page_size: int = 100) -> None:
        self.normalize = normalize
        self.function_prefix = function_prefix
        self.region = region
        self.overlap = overlap
        self.page_size = page_size

    def poll(self, since: datetime | None) -> Poll:
        raw = self.raw_findings(since)
        # Nothing ever seen: the epoch, so the next poll starts from the beginning again.
        watermark = max((parse_time(f["updatedAt"], "updatedAt") for f in raw), default=since or EPOCH)
        findings = [found for finding in raw for found in self.normalize(finding)]
        gaps = [gap for function in self.coverage() for gap in function.not_checked()]
        return Poll(findings=tuple(findings), watermark=watermark, not_checked=tuple(gaps))

    def latest(self, arn: str) -> list[Finding] | None:
        """The finding as Inspector has it now, normalized (None: Inspector no longer has it). Events may arrive
        out of order (EventBridge does not promise order): the API's current state is the truth, the event a
        trigger."""
        criteria = {"findingArn": [{"comparison": "EQUALS", "value": arn}]}
        found = list(self._pages("get finding", "list_findings", "findings", filterCriteria=criteria, page_size=1))
        return self.normalize(found[0]) if found else None

    def raw_findings(self, since: datetime | None) -> list[dict[str, Any]]:
        """ListFindings of our functions with ``updatedAt`` >= ``since`` - overlap, every status and page; one
        finding per ARN (its newest ``updatedAt``: a finding updated while the pages were read appears twice)."""
        criteria: dict[str, Any] = {
            "resourceType": [{"comparison": "EQUALS", "value": LAMBDA_RESOURCE_TYPE}],
            "lambdaFunctionName": [{"comparison": "PREFIX", "value": self.function_prefix}],
            "findingStatus": [{"comparison": "EQUALS", "value": s} for s in ("ACTIVE", "CLOSED", "SUPPRESSED")],
        }
        if since is not None:
            criteria["updatedAt"] = [{"startInclusive": since - self.overlap}]
        newest: dict[str, dict[str, Any]] = {}
        for finding in self._pages("list findings", "list_findings", "findings", filterCriteria=criteria,
                                   sortCriteria={"field": "LAST_OBSERVED_AT", "sortOrder": "ASC"}):
            arn = finding["findingArn"]
            held = newest.get(arn)
            if held is None or parse_time(finding["updatedAt"], "updatedAt") > parse_time(held["updatedAt"],
                                                                                          "updatedAt"):
                newest[arn] = finding
        return sorted(newest.values(), key=lambda f: (parse_time(f["updatedAt"], "updatedAt"), f["findingArn"]))

    def coverage(self) -> list[FunctionCoverage]:
        """Each of our functions (Lambda ListFunctions, by name prefix) with Inspector's coverage of it."""
        scans: dict[str, dict[str, str]] = {}
        active: dict[str, dict[str, bool]] = {}
        criteria = {"resourceType": [{"comparison": "EQUALS", "value": LAMBDA_RESOURCE_TYPE}]}
        for record in self._pages("list coverage", "list_coverage", "coveredResources", filterCriteria=criteria,
                                  page_size=min(self.page_size * 2, 200)):
            name = (((record.get("resourceMetadata") or {}).get("lambdaFunction") or {}).get("functionName")
                    or _function_name(record.get("resourceId", "")))
            status = record.get("scanStatus") or {}
            scan_type = record.get("scanType", "PACKAGE")
            scans.setdefault(name, {})[scan_type] = status.get("reason", "")
            active.setdefault(name, {})[scan_type] = status.get("statusCode") == "ACTIVE"
        return [FunctionCoverage(function=name, scans=scans.get(name, {}), active=active.get(name, {}))
                for name in self.functions()]

    def functions(self) -> list[str]:
        """Our functions' names (Lambda ListFunctions, every page, by prefix), sorted."""
        client = aws.client("lambda", self.region)
        names: list[str] = []
        marker: str | None = None
        while True:
            page = guarded("list Lambda functions", client.list_functions, **({"Marker": marker} if marker else {}))
            names += [f["FunctionName"] for f in page.get("Functions", [])
                      if f["FunctionName"].startswith(self.function_prefix)]
            marker = page.get("NextMarker")
            if not marker:
                return sorted(set(names))

    def _pages(self, what: str, operation: str, member: str, *, page_size: int | None = None,
               **kwargs: Any) -> Iterator[dict[str, Any]]:
        call = getattr(aws.client("inspector2", self.region), operation)
        token: str | None = None
        while True:
            page = guarded(f"Inspector2 {what}", call, maxResults=page_size or self.page_size,
                           **kwargs, **({"nextToken": token} if token else {}))
            yield from page.get(member, [])
            token = page.get("nextToken")
            if not token:
                return


def _function_name(resource_id: str) -> str:
    """``arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`` -> ``<name>``."""
    parts = resource_id.split(":")
    return parts[6] if len(parts) > 6 and parts[5] == "function" else resource_id
