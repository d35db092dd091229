"""Build reports in S3 (``make audit``'s uploads) -> complete scans of their source, through its normalizer.

One object per source and run, ``<VULNS_BUILD_REPORTS_PREFIX><run id>/<source>.json``, a JSON envelope around
the tool's own output, with what its normalizer needs to know of the run::

    {"source": "bandit", "scanned_at": "2026-11-30T09:00:00Z",
     "report": {... bandit -f json ...}, "targets": ["layers/ops/python", "functions"]}
    {"source": "pip-audit", "scanned_at": "...", "report": {... pip-audit -f json ...}, "resource": "layer:ops"}
    {"source": "cfn-lint", "scanned_at": "...", "report": [... cfn-lint --format json ...],
     "templates": ["cdk.out/ChurnGuardOps-Backup.template.json"]}
    {"source": "cdk-nag", "scanned_at": "...", "reports": [{"name": "AwsSolutions-<stack>-NagReport.csv",
     "report": "<the CSV>", "template": {... the synthesized template, optional ...}}]}

A tool that could not check (an advisory service out of reach) uploads ``"not_checked": "<why>"`` instead of a
report: the scan is then incomplete (nothing is marked fixed) and the report says "not checked" for the source.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from churnguard_ops.core import aws
from churnguard_ops.core.clock import IsoTime
from churnguard_ops.core.errors import guarded
from churnguard_ops.vulns.model import NotChecked, ScanResult
from churnguard_ops.vulns.normalize import bandit, cdk_nag, cfn_lint, pip_audit
from churnguard_ops.vulns.normalize.common import ReportFormatError


class NagReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    report: str
    template: dict[str, Any] | None = None


class BuildReport(BaseModel):
    """The envelope of one build report (see the module)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    scanned_at: IsoTime
    report: Any = None
    reports: list[NagReport] | None = None
    targets: list[str] | None = None
    templates: list[str] | None = None
    resource: str | None = None
    not_checked: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_outcome(self) -> BuildReport:
        has_report = self.report is not None or self.reports is not None
        if has_report == (self.not_checked is not None):
            raise ValueError("give either the tool's report (report / reports) or not_checked (why it could not run)")
        return self


def scan_result(document: Any, *, expected_source: str) -> ScanResult:
    """A build report's envelope -> its source's complete scan (or an incomplete one, not checked)."""
    try:
        envelope = BuildReport.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise ReportFormatError(f"build report {where}: {first['msg']}") from None
    if envelope.source != expected_source:
        raise ReportFormatError(f"build report source: {envelope.source!r}, but the object is named for "
                                f"{expected_source!r}")
    if envelope.not_checked is not None:
        return ScanResult(source=envelope.source, scanned_at=envelope.scanned_at, complete=False,
                          not_checked=(NotChecked(reason=envelope.not_checked),))
    return _normalize(envelope, envelope.scanned_at)


def _normalize(envelope: BuildReport, scanned_at: datetime) -> ScanResult:
    source = envelope.source
    if source == "pip-audit":
        if envelope.resource:
            return pip_audit.normalize(envelope.report, scanned_at=scanned_at, resource=envelope.resource)
        return pip_audit.normalize(envelope.report, scanned_at=scanned_at)
    if source == "bandit":
        return bandit.normalize(envelope.report, scanned_at=scanned_at, targets=envelope.targets or [])
    if source == "cfn-lint":
        return cfn_lint.normalize(envelope.report, scanned_at=scanned_at, templates=envelope.templates or [])
    if source == "cdk-nag":
        if not envelope.reports:
            raise ReportFormatError("build report reports: cdk-nag needs one NagReport per stack")
        scans = [cdk_nag.normalize(nag.report, report_name=nag.name, scanned_at=scanned_at, template=nag.template)
                 for nag in envelope.reports]
        return ScanResult(source="cdk-nag", scanned_at=scanned_at, complete=all(s.complete for s in scans),
                          covered=tuple(c for s in scans for c in s.covered),
                          findings=tuple(f for s in scans for f in s.findings),
                          not_checked=tuple(n for s in scans for n in s.not_checked))
    raise ReportFormatError(f"build report source: {source!r} is not a build-time source")


class S3BuildReports:
    """Build reports read from the ops bucket."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def load(self, bucket: str, key: str, *, source: str) -> ScanResult:
        raw = guarded(f"read s3://{bucket}/{key}", aws.client("s3", self.region).get_object, Bucket=bucket, Key=key)
        try:
            document = json.loads(raw["Body"].read())
        except ValueError as exc:
            raise ReportFormatError(f"build report s3://{bucket}/{key}: not JSON: {exc}") from None
        return scan_result(document, expected_source=source)
