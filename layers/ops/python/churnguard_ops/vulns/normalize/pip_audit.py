"""pip-audit ``--format json`` on the layer's locked requirements -> a complete scan of the layer.

pip-audit gives no severity: a finding gets one from CVSS when ``cvss`` (by any of its ids, e.g. looked up in
OSV or known from Inspector) has it, else ``unknown`` (the SLA clocks it as high, and the report says so). A
dependency pip-audit skipped (``skip_reason``: not on PyPI, could not resolve) is "not checked", never clean.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from churnguard_ops.core.contracts import VULN_LAYER_RESOURCE
from churnguard_ops.vulns.keys import new_finding
from churnguard_ops.vulns.model import Cvss, Finding, NotChecked, ScanResult
from churnguard_ops.vulns.normalize.common import ReportFormatError, require, severity_without_source

SOURCE = "pip-audit"
OSV_URL = "https://osv.dev/vulnerability/{id}"


def _load(report: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(report, str):
        try:
            report = json.loads(report)
        except json.JSONDecodeError as exc:
            raise ReportFormatError(f"pip-audit: not JSON: {exc}") from None
    if not isinstance(report, Mapping) or not isinstance(report.get("dependencies"), list):
        raise ReportFormatError("pip-audit: expected an object with a 'dependencies' list (pip-audit --format json)")
    return report


def normalize(report: str | Mapping[str, Any], *, scanned_at: datetime, resource: str = VULN_LAYER_RESOURCE,
              cvss: Mapping[str, Cvss] | None = None) -> ScanResult:
    """The whole report as one complete scan of ``resource``."""
    data = _load(report)
    scores = cvss or {}
    findings: list[Finding] = []
    skipped: list[NotChecked] = []
    for dep in data["dependencies"]:
        name = str(require(dep, "name", "pip-audit dependency"))
        if dep.get("skip_reason"):
            skipped.append(NotChecked(resource=resource, reason=f"{name}: {dep['skip_reason']}"))
            continue
        version = str(require(dep, "version", f"pip-audit dependency {name}"))
        for vuln in dep.get("vulns") or []:
            vid = str(require(vuln, "id", f"pip-audit {name} vulnerability"))
            ids = [vid, *map(str, vuln.get("aliases") or [])]
            score = next((scores[i] for i in ids if i in scores), None)
            severity, note = severity_without_source(score)
            description = str(vuln.get("description") or "")
            findings.append(new_finding(
                ids=ids, resource=resource, package=name, version=version,
                fixed_versions=tuple(map(str, vuln.get("fix_versions") or [])), sources=(SOURCE,),
                severity=severity, severity_note=note, cvss=score, title=f"{vid} in {name} {version}",
                description=description, url=OSV_URL.format(id=vid), observed_at=scanned_at,
                source_ids={SOURCE: vid}))
    return ScanResult(source=SOURCE, scanned_at=scanned_at, complete=True, covered=(resource,),
                      findings=tuple(findings), not_checked=tuple(skipped))
