"""cdk-nag's NagReport (``<pack>-<stack>-NagReport.csv`` or ``.json`` in ``cdk.out``) -> a complete scan of the
stack's template.

Only ``Non-Compliant`` lines are findings; ``Compliant`` and ``Suppressed`` ones are not (a suppression carries
its reason in the CDK code); ``UNKNOWN`` (the rule could not run) is "not checked". cdk-nag names a resource by
its construct path; given the synthesized template, the finding is named by the logical id whose
``aws:cdk:path`` metadata matches (``template:<stack>.template.json/<logical id>``), else by the path.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from churnguard_ops.vulns.keys import dedup, new_finding
from churnguard_ops.vulns.model import Finding, NotChecked, ScanResult, Severity
from churnguard_ops.vulns.normalize.common import ReportFormatError

SOURCE = "cdk-nag"
_LEVELS: dict[str, Severity] = {"Error": "high", "Warning": "medium", "Info": "low"}
_CSV_HEADER = ["Rule ID", "Resource ID", "Compliance", "Exception Reason", "Rule Level", "Rule Info"]
_RULE_URL = "https://github.com/cdklabs/cdk-nag/blob/main/RULES.md"


def stack_of(report_name: str, pack: str = "AwsSolutions") -> str:
    """``AwsSolutions-ChurnGuardOps-Backup-NagReport.csv`` -> ``ChurnGuardOps-Backup``."""
    base = report_name.rsplit("/", 1)[-1]
    prefix, suffixes = f"{pack}-", ("-NagReport.csv", "-NagReport.json")
    if not base.startswith(prefix) or not base.endswith(suffixes):
        raise ReportFormatError(f"cdk-nag: {base!r} is not a {pack} NagReport file name")
    return base[len(prefix):base.rindex("-NagReport.")]


def _lines(report: str, fmt: str) -> list[dict[str, str]]:
    if fmt == "json":
        try:
            data = json.loads(report)
        except json.JSONDecodeError as exc:
            raise ReportFormatError(f"cdk-nag: not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
            raise ReportFormatError("cdk-nag: expected an object with a 'lines' list (NagReportFormat.JSON)")
        return [{"rule": line.get("ruleId", ""), "resource": line.get("resourceId", ""),
                 "compliance": line.get("compliance", ""), "level": line.get("ruleLevel", ""),
                 "info": line.get("ruleInfo", "")} for line in data["lines"]]
    rows = list(csv.reader(io.StringIO(report)))
    if not rows or rows[0] != _CSV_HEADER:
        raise ReportFormatError(f"cdk-nag: expected the CSV header {','.join(_CSV_HEADER)}")
    return [{"rule": r[0], "resource": r[1], "compliance": r[2], "level": r[4], "info": r[5]}
            for r in rows[1:] if len(r) == len(_CSV_HEADER)]


def logical_ids(template: Mapping[str, Any]) -> dict[str, str]:
    """Construct path -> logical id, from each resource's ``aws:cdk:path`` metadata."""
    out: dict[str, str] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        path = ((resource or {}).get("Metadata") or {}).get("aws:cdk:path")
        if path:
            out[str(path)] = logical_id
    return out


def normalize(report: str, *, report_name: str, scanned_at: datetime, template: Mapping[str, Any] | None = None,
              pack: str = "AwsSolutions") -> ScanResult:
    stack = stack_of(report_name, pack)
    fmt = report_name.rsplit(".", 1)[-1]
    template_file = f"{stack}.template.json"
    ids = logical_ids(template or {})
    findings: list[Finding] = []
    not_checked: list[NotChecked] = []
    for line in _lines(report, fmt):
        if not line["rule"] or not line["resource"]:
            raise ReportFormatError(f"cdk-nag: a line without a rule or resource in {report_name}")
        resource = f"template:{template_file}/{ids.get(line['resource'], line['resource'])}"
        if line["compliance"] == "UNKNOWN":
            not_checked.append(NotChecked(resource=resource, reason=f"{line['rule']} could not be evaluated"))
        elif line["compliance"] == "Non-Compliant":
            findings.append(new_finding(
                ids=[line["rule"]], rule=line["rule"], resource=resource, sources=(SOURCE,),
                severity=_LEVELS.get(line["level"], "medium"), title=f"{line['rule']}: {line['info']}",
                description=f"{line['info']} ({line['resource']})", url=_RULE_URL, observed_at=scanned_at))
    return ScanResult(source=SOURCE, scanned_at=scanned_at, complete=True, covered=(f"template:{template_file}/*",),
                      findings=tuple(dedup(findings)), not_checked=tuple(not_checked))
