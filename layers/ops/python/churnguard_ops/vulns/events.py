"""The vulnerability functions' triggers: their schedules, Inspector's finding events and build reports in S3.

- ``{"action": "poll"}``: the poll schedule (Inspector since the watermark, and its coverage);
- ``{"action": "report"}``: the weekly report schedule;
- "Inspector2 Finding" (source ``aws.inspector2``): ``detail`` is one finding as ListFindings returns it (its
  times in the event's own form, ``Wed Sep 04 16:50:37.627 UTC 2024``);
- "Object Created" (source ``aws.s3``, EventBridge notifications on the ops bucket): a build report uploaded
  as ``<VULNS_BUILD_REPORTS_PREFIX><run id>/<source>.json``.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from churnguard_ops.core import contracts


class PollRequest(BaseModel):
    """The poll schedule's constant input."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["poll"]


class ReportRequest(BaseModel):
    """The weekly report schedule's constant input."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["report"]


class _Open(BaseModel):
    """Typed where the ledger reads it; every other member travels along untouched."""

    model_config = ConfigDict(extra="allow")


class LambdaDetails(_Open):
    functionName: str | None = Field(default=None, min_length=1)  # noqa: N815


class ResourceDetails(_Open):
    awsLambdaFunction: LambdaDetails | None = None  # noqa: N815


class InspectorResource(_Open):
    type: str = Field(min_length=1)
    id: str = Field(min_length=1)
    details: ResourceDetails | None = None


class CvssEntry(_Open):
    baseScore: float = Field(ge=0.0, le=10.0)  # noqa: N815
    scoringVector: str | None = None  # noqa: N815
    source: str | None = None
    version: str | None = None


class AdjustedCvss(_Open):
    score: float | None = Field(default=None, ge=0.0, le=10.0)
    scoringVector: str | None = None  # noqa: N815
    scoreSource: str | None = None  # noqa: N815
    version: str | None = None


class ScoreDetails(_Open):
    adjustedCvss: AdjustedCvss | None = None  # noqa: N815


class VulnerablePackage(_Open):
    name: str = Field(min_length=1)
    version: str | None = None
    fixedInVersion: str | None = None  # noqa: N815
    sourceLambdaLayerArn: str | None = Field(  # noqa: N815
        default=None, pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+(:\d+)?$")


class PackageDetails(_Open):
    vulnerabilityId: str = Field(min_length=1)  # noqa: N815
    vulnerablePackages: list[VulnerablePackage] = Field(min_length=1)  # noqa: N815
    relatedVulnerabilities: list[str] = Field(default_factory=list)  # noqa: N815
    cvss: list[CvssEntry] = Field(default_factory=list)
    sourceUrl: str | None = None  # noqa: N815
    referenceUrls: list[str] = Field(default_factory=list)  # noqa: N815


class CodeFilePath(_Open):
    filePath: str | None = None  # noqa: N815
    fileName: str | None = None  # noqa: N815
    startLine: int | None = Field(default=None, ge=1)  # noqa: N815


class CodeDetails(_Open):
    ruleId: str | None = Field(default=None, min_length=1)  # noqa: N815
    detectorId: str = Field(min_length=1)  # noqa: N815
    detectorName: str | None = None  # noqa: N815
    sourceLambdaLayerArn: str | None = Field(  # noqa: N815
        default=None, pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+(:\d+)?$")
    filePath: CodeFilePath | None = None  # noqa: N815
    referenceUrls: list[str] = Field(default_factory=list)  # noqa: N815


class Epss(_Open):
    score: float | None = Field(default=None, ge=0.0, le=1.0)


class InspectorFinding(_Open):
    """An Inspector finding as the ledger reads it (package and code vulnerabilities of Lambda functions)."""

    findingArn: str = Field(pattern=r"^arn:aws[a-z-]*:inspector2:[a-z0-9-]+:\d{12}:finding/\S+$")  # noqa: N815
    type: Literal["PACKAGE_VULNERABILITY", "CODE_VULNERABILITY"]
    status: Literal["ACTIVE", "CLOSED", "SUPPRESSED"]
    severity: str = Field(min_length=1)
    title: str | None = None
    description: str | None = None
    updatedAt: str = Field(min_length=1)  # noqa: N815
    lastObservedAt: str = Field(min_length=1)  # noqa: N815
    firstObservedAt: str | None = None  # noqa: N815
    resources: list[InspectorResource] = Field(min_length=1)
    epss: Epss | None = None
    inspectorScoreDetails: ScoreDetails | None = None  # noqa: N815
    packageVulnerabilityDetails: PackageDetails | None = None  # noqa: N815
    codeVulnerabilityDetails: CodeDetails | None = None  # noqa: N815

    @model_validator(mode="after")
    def _details_of_its_type(self) -> InspectorFinding:
        if self.type == "PACKAGE_VULNERABILITY" and self.packageVulnerabilityDetails is None:
            raise ValueError("packageVulnerabilityDetails is required for a PACKAGE_VULNERABILITY finding")
        if self.type == "CODE_VULNERABILITY" and self.codeVulnerabilityDetails is None:
            raise ValueError("codeVulnerabilityDetails is required for a CODE_VULNERABILITY finding")
        if not any(r.type == "AWS_LAMBDA_FUNCTION" for r in self.resources):
            raise ValueError("resources: no AWS_LAMBDA_FUNCTION resource (only Lambda findings are tracked)")
        return self


class InspectorFindingEvent(EventBridgeModel):
    source: Literal[contracts.INSPECTOR_EVENT_SOURCE]  # type: ignore[valid-type]
    detail_type: Literal[contracts.INSPECTOR_FINDING_DETAIL_TYPE] = Field(  # type: ignore[valid-type]
        alias="detail-type")
    detail: InspectorFinding


_REPORT_KEY = re.compile(
    rf"^{re.escape(contracts.VULNS_BUILD_REPORTS_PREFIX)}(?P<run>[A-Za-z0-9._-]+)/(?P<source>[a-z-]+)\.json$")


class BuildReportCreated(S3EventNotificationEventBridgeModel):
    """A build report landed in the ops bucket."""

    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")

    @field_validator("detail")
    @classmethod
    def _report_key(cls, detail: Any) -> Any:
        key = detail.object.key
        match = _REPORT_KEY.match(key)
        if not match:
            raise ValueError(f"object.key must be {contracts.VULNS_BUILD_REPORTS_PREFIX}<run id>/<source>.json: "
                             f"{key!r}")
        if match["source"] not in contracts.VULN_SOURCES:
            raise ValueError(f"object.key names no build-time source ({', '.join(contracts.VULN_SOURCES[1:])}): "
                             f"{key!r}")
        if match["source"] == "inspector":
            raise ValueError(f"object.key: inspector findings come from Inspector, not from a build report: {key!r}")
        return detail

    @property
    def bucket(self) -> str:
        return str(self.detail.bucket.name)

    @property
    def key(self) -> str:
        return str(self.detail.object.key)

    @property
    def report_source(self) -> str:
        match = _REPORT_KEY.match(self.key)
        assert match is not None  # validated above
        return match["source"]

    @property
    def run_id(self) -> str:
        match = _REPORT_KEY.match(self.key)
        assert match is not None
        return match["run"]
