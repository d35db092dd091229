"""cfn-lint ``--format json`` over the synthesized templates -> a complete scan of those templates.

A match is named by the template file and the logical id its ``Location.Path`` points into
(``template:<file>/<logical id>``; outside ``Resources``: the section and key, ``Outputs.ApiUrl``).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from churnguard_ops.vulns.keys import dedup, new_finding
from churnguard_ops.vulns.model import Finding, Location, ScanResult, Severity
from churnguard_ops.vulns.normalize.common import ReportFormatError, require

SOURCE = "cfn-lint"
_LEVELS: dict[str, Severity] = {"Error": "high", "Warning": "medium", "Informational": "low"}


def _base(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _subject(path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "Resources":
        return str(path[1])
    if len(path) >= 2:
        return f"{path[0]}.{path[1]}"
    return str(path[0]) if path else "template"


def normalize(report: str | list[Any], *, scanned_at: datetime, templates: Sequence[str]) -> ScanResult:
    """``templates``: the template files cfn-lint was run on (a clean template reports nothing)."""
    if isinstance(report, str):
        try:
            report = json.loads(report) if report.strip() else []
        except json.JSONDecodeError as exc:
            raise ReportFormatError(f"cfn-lint: not JSON: {exc}") from None
    if not isinstance(report, list):
        raise ReportFormatError("cfn-lint: expected a list of matches (cfn-lint --format json)")
    if not templates:
        raise ReportFormatError("cfn-lint: name the templates it was run on")
    findings: list[Finding] = []
    for match in report:
        rule = require(match, "Rule", "cfn-lint match")
        rule_id = str(require(rule, "Id", "cfn-lint match Rule"))
        filename = _base(str(require(match, "Filename", f"cfn-lint {rule_id}")))
        location = match.get("Location") or {}
        line = (location.get("Start") or {}).get("LineNumber")
        findings.append(new_finding(
            ids=[rule_id], rule=rule_id, resource=f"template:{filename}/{_subject(location.get('Path') or [])}",
            sources=(SOURCE,), severity=_LEVELS.get(str(match.get("Level")), "medium"),
            title=f"{rule_id}: {rule.get('ShortDescription') or rule.get('Description', '')}",
            description=str(match.get("Message") or rule.get("Description") or ""), url=rule.get("Source"),
            location=Location(path=str(match["Filename"]), line=line or None), observed_at=scanned_at))
    return ScanResult(source=SOURCE, scanned_at=scanned_at, complete=True,
                      covered=tuple(f"template:{_base(t)}/*" for t in templates), findings=tuple(dedup(findings)))
