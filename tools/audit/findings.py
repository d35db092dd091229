"""The scanners' reports read by the vulnerability library's own normalizers (``churnguard_ops.vulns.normalize``),
so the audit summary counts exactly the findings, severities and resources the ledger will hold."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from churnguard_ops.vulns.model import NotChecked, ScanResult
from churnguard_ops.vulns.normalize import bandit, cdk_nag, cfn_lint, pip_audit
from churnguard_ops.vulns.normalize.common import ReportFormatError
from tools.audit.scanners import BANDIT_TARGETS, Outcome


def nag_template(logical_ids: dict[str, str]) -> dict[str, Any]:
    """The construct path -> logical id map in the shape the cdk-nag normalizer reads (``aws:cdk:path``
    metadata): this app's templates carry no path metadata, the cloud assembly's metadata files do."""
    return {"Resources": {logical_id: {"Metadata": {"aws:cdk:path": path}} for path, logical_id in logical_ids.items()}}


def _cdk_nag(reports: Sequence[Path], scanned_at: datetime) -> ScanResult:
    index = {entry["report"]: entry for entry in json.loads((reports[0].parent / "index.json").read_text())}
    scans = [cdk_nag.normalize(report.read_text(), report_name=report.name, scanned_at=scanned_at,
                               template=nag_template(index[report.name]["logical_ids"])) for report in reports]
    return ScanResult(source="cdk-nag", scanned_at=scanned_at, complete=True,
                      covered=tuple(c for s in scans for c in s.covered),
                      findings=tuple(f for s in scans for f in s.findings),
                      not_checked=tuple(n for s in scans for n in s.not_checked))


def scan_of(outcome: Outcome, scanned_at: datetime, *, templates: Sequence[str] = ()) -> ScanResult:
    """The normalized scan of a source that ran; one that did not check gives an incomplete scan saying why."""
    if not outcome.checked:
        return ScanResult(source=outcome.source, scanned_at=scanned_at, complete=False,
                          not_checked=(NotChecked(reason=outcome.reason or "not checked"),))
    try:
        if outcome.source == "bandit":
            return bandit.normalize(outcome.reports[0].read_text(), scanned_at=scanned_at, targets=BANDIT_TARGETS)
        if outcome.source == "pip-audit":
            return pip_audit.normalize(outcome.reports[0].read_text(), scanned_at=scanned_at)
        if outcome.source == "cfn-lint":
            return cfn_lint.normalize(outcome.reports[0].read_text(), scanned_at=scanned_at, templates=templates)
        if outcome.source == "cdk-nag":
            return _cdk_nag(outcome.reports, scanned_at)
    except (ReportFormatError, OSError, KeyError, ValueError) as exc:
        return ScanResult(source=outcome.source, scanned_at=scanned_at, complete=False,
                          not_checked=(NotChecked(reason=f"its report could not be read: {exc}"),))
    raise ValueError(f"not a build-time source: {outcome.source}")
