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
from pydantic import BaseModel, ConfigDict, Field, field_validator

from churnguard_ops.core import contracts


class PollRequest(BaseModel):
    """The poll schedule's constant input."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["poll"]


class ReportRequest(BaseModel):
    """The weekly report schedule's constant input."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["report"]


class InspectorResource(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1)
    id: str = Field(min_length=1)


class InspectorFinding(BaseModel):
    """What the ledger needs of an Inspector finding; the rest travels along untouched (``extra``)."""

    model_config = ConfigDict(extra="allow")

    findingArn: str = Field(pattern=r"^arn:aws[a-z-]*:inspector2:[a-z0-9-]+:\d{12}:finding/\S+$")  # noqa: N815
    type: Literal["PACKAGE_VULNERABILITY", "CODE_VULNERABILITY", "NETWORK_REACHABILITY"]
    status: Literal["ACTIVE", "CLOSED", "SUPPRESSED"]
    severity: str = Field(min_length=1)
    updatedAt: str = Field(min_length=1)  # noqa: N815
    lastObservedAt: str = Field(min_length=1)  # noqa: N815
    resources: list[InspectorResource] = Field(min_length=1)


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
