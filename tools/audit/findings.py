"""Each source's run as a build report (the JSON envelope ``churnguard_ops.vulns.adapters_build`` reads from the
ops bucket), and the normalized scan the ledger will make of it: the summary counts exactly the findings,
severities and resources the ledger holds, through the same code."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from churnguard_ops.core.contracts import VULN_LAYER_RESOURCE
from churnguard_ops.vulns.adapters_build import scan_result
from churnguard_ops.vulns.model import NotChecked, ScanResult
from churnguard_ops.vulns.normalize.common import ReportFormatError
from tools.audit.scanners import BANDIT_TARGETS, Outcome


def nag_template(logical_ids: dict[str, str]) -> dict[str, Any]:
    """The construct path -> logical id map in the shape the cdk-nag normalizer reads (``aws:cdk:path``
    metadata): this app's templates carry no path metadata, the cloud assembly's metadata files do."""
    return {"Resources": {logical_id: {"Metadata": {"aws:cdk:path": path}} for path, logical_id in logical_ids.items()}}


def build_report(outcome: Outcome, scanned_at: datetime, *, templates: Sequence[str] = ()) -> dict[str, Any]:
    """The envelope to upload as ``<VULNS_BUILD_REPORTS_PREFIX><run id>/<source>.json``: the tool's own report,
    or ``not_checked`` with why (then the ledger marks nothing fixed from this run)."""
    document: dict[str, Any] = {"source": outcome.source, "scanned_at": scanned_at.isoformat()}
    if not outcome.checked:
        return {**document, "not_checked": outcome.reason or "not checked"}
    try:
        if outcome.source == "cdk-nag":
            index = {e["report"]: e for e in json.loads((outcome.reports[0].parent / "index.json").read_text())}
            return {**document, "reports": [
                {"name": r.name, "report": r.read_text(), "template": nag_template(index[r.name]["logical_ids"])}
                for r in outcome.reports]}
        report = json.loads(outcome.reports[0].read_text())
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return {**document, "not_checked": f"its report could not be read: {exc}"}
    # What each normalizer needs to know of the run besides the report.
    extras: dict[str, dict[str, Any]] = {
        "bandit": {"targets": list(BANDIT_TARGETS)},
        "pip-audit": {"resource": VULN_LAYER_RESOURCE},
        "cfn-lint": {"templates": list(templates)},
    }
    return {**document, "report": report, **extras[outcome.source]}


def scan_of(document: dict[str, Any]) -> ScanResult:
    """The ledger's view of one build report; a report its normalizer refuses is "not checked", not clean."""
    try:
        return scan_result(document, expected_source=document["source"])
    except ReportFormatError as exc:
        return ScanResult(source=document["source"], scanned_at=document["scanned_at"], complete=False,
                          not_checked=(NotChecked(reason=f"its report could not be read: {exc}"),))
