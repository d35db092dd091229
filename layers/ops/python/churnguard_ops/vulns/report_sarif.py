"""The ledger's open and excepted findings as SARIF 2.1.0 (GitHub code scanning, IDEs): one run, one rule per
vulnerability or rule id, one result per finding. Excepted findings carry an accepted suppression with the
exception's justification. Code and template findings point at their file and line; a layer's or function's
package findings at ``artifacts`` (resource -> repository file, e.g. ``layer:ops`` -> the layer's
requirements), else at a logical location named by the resource."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from churnguard_ops.vulns.report import ReportFinding, VulnReport

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "churnguard-ops-vulns"
_LEVELS = {"critical": "error", "high": "error", "unknown": "error", "medium": "warning", "low": "note",
           "informational": "note"}
#: GitHub's security-severity when no CVSS is known (its own thresholds: 9.0 critical, 7.0 high, 4.0 medium).
_SECURITY_SEVERITY = {"critical": 9.5, "high": 8.0, "unknown": 8.0, "medium": 5.5, "low": 2.0, "informational": 0.0}


def _location(f: ReportFinding, artifacts: Mapping[str, str]) -> dict[str, Any]:
    if f.location is not None:
        region = {"startLine": f.location.line} if f.location.line else {}
        physical: dict[str, Any] = {"artifactLocation": {"uri": f.location.path}}
        if region:
            physical["region"] = region
        return {"physicalLocation": physical, "logicalLocations": [{"fullyQualifiedName": f.resource}]}
    if f.resource.startswith("code:"):
        return {"physicalLocation": {"artifactLocation": {"uri": f.resource.removeprefix("code:")}}}
    if f.resource in artifacts:
        return {"physicalLocation": {"artifactLocation": {"uri": artifacts[f.resource]}},
                "logicalLocations": [{"fullyQualifiedName": f.resource}]}
    return {"logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}]}


def _message(f: ReportFinding) -> str:
    subject = f"{f.package} {f.version or ''}".strip() if f.package else f.rule or f.vuln_id
    fix = f"; fixed in {', '.join(f.fixed_versions)}" if f.fixed_versions else ""
    sla = f"; SLA due {f.sla_due:%Y-%m-%d}{' (breached)' if f.sla_breached else ''}" if f.sla_due else ""
    return f"{f.vuln_id} ({f.severity}) in {subject} on {f.resource}: {f.title}{fix}{sla}"


def render(report: VulnReport, *, artifacts: Mapping[str, str] | None = None) -> str:
    known = artifacts or {}
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.findings:
        if f.vuln_id not in rules:
            rule: dict[str, Any] = {"id": f.vuln_id, "shortDescription": {"text": f.title or f.vuln_id},
                                    "properties": {"tags": ["security", *f.sources],
                                                   "security-severity": str(f.cvss.score if f.cvss else
                                                                            _SECURITY_SEVERITY[f.severity])}}
            if f.url:
                rule["helpUri"] = f.url
            rules[f.vuln_id] = rule
        result: dict[str, Any] = {
            "ruleId": f.vuln_id, "ruleIndex": list(rules).index(f.vuln_id), "level": _LEVELS[f.severity],
            "message": {"text": _message(f)}, "locations": [_location(f, known)],
            "partialFingerprints": {"churnguardFindingKey/v1": f.key},
            "properties": {"severity": f.severity, "state": f.state, "resource": f.resource,
                           "sources": list(f.sources), "aliases": list(f.aliases),
                           "firstSeen": f.first_seen.isoformat(), "slaBreached": f.sla_breached},
        }
        if f.exception is not None:
            until = f", until {f.exception.expires}" if f.exception.expires else ""
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification":
                                       f"{f.exception.id} ({f.exception.approver}{until}): {f.exception.reason}"}]
        results.append(result)
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [{
        "tool": {"driver": {"name": TOOL_NAME, "rules": list(rules.values())}},
        "results": results,
        "invocations": [{"executionSuccessful": True, "endTimeUtc": report.generated_at.isoformat()}],
    }]}
    return json.dumps(log, indent=2)
