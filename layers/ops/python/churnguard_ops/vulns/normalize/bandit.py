"""bandit ``-f json`` on the layer and the functions -> a complete scan of the code it was run on.

A finding is one rule in one file (``code:<repository path>``): line numbers move with every edit, the file and
the rule do not. Several hits of a rule in a file are one finding whose description lists the lines. Files
bandit could not parse (``errors``) are "not checked".
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from churnguard_ops.vulns.keys import new_finding
from churnguard_ops.vulns.model import Finding, Location, NotChecked, ScanResult, Severity
from churnguard_ops.vulns.normalize.common import ReportFormatError, require

SOURCE = "bandit"
_SEVERITIES: dict[str, Severity] = {"HIGH": "high", "MEDIUM": "medium", "LOW": "low", "UNDEFINED": "informational"}


def repo_path(filename: str, root: str = "") -> str:
    """bandit's ``./layers/ops/...`` (or an absolute path under ``root``) -> ``layers/ops/...``."""
    path = filename.replace("\\", "/")
    prefix = root.rstrip("/") + "/" if root else ""
    if prefix and path.startswith(prefix):
        path = path[len(prefix):]
    while path.startswith("./"):
        path = path[2:]
    return path


def _covered(target: str) -> str:
    """A file covers itself; a folder everything under it."""
    return f"code:{target}" if target.endswith(".py") else f"code:{target.rstrip('/')}/*"


def normalize(report: str | Mapping[str, Any], *, scanned_at: datetime, targets: Sequence[str],
              root: str = "") -> ScanResult:
    """``targets``: the repository paths bandit was run on (``layers/ops/python``, ``functions``); every file
    under them is covered, so a rule no longer reported there is fixed."""
    if isinstance(report, str):
        try:
            report = json.loads(report)
        except json.JSONDecodeError as exc:
            raise ReportFormatError(f"bandit: not JSON: {exc}") from None
    if not isinstance(report, Mapping) or not isinstance(report.get("results"), list):
        raise ReportFormatError("bandit: expected an object with a 'results' list (bandit -f json)")
    if not targets:
        raise ReportFormatError("bandit: name the paths it was run on (targets)")
    hits: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for result in report["results"]:
        path = repo_path(str(require(result, "filename", "bandit result")), root)
        hits.setdefault((path, str(require(result, "test_id", f"bandit result in {path}"))), []).append(result)
    findings: list[Finding] = []
    for (path, rule), results in hits.items():
        first = min(results, key=lambda r: int(r.get("line_number") or 0))
        worst = min((_SEVERITIES.get(str(r.get("issue_severity", "")).upper(), "informational") for r in results),
                    key=("high", "medium", "low", "informational").index)
        lines = ", ".join(str(r.get("line_number")) for r in sorted(results, key=lambda r: r.get("line_number", 0)))
        cwe = (first.get("issue_cwe") or {}).get("id")
        description = (f"{first.get('issue_text', '')} (confidence {first.get('issue_confidence', '?')}"
                       f"{f', CWE-{cwe}' if cwe else ''}; line{'s' if len(results) > 1 else ''} {lines})")
        findings.append(new_finding(
            ids=[rule], rule=rule, resource=f"code:{path}", sources=(SOURCE,), severity=worst,
            title=f"{rule} {first.get('test_name', '')}".strip(), description=description,
            url=first.get("more_info"), location=Location(path=path, line=first.get("line_number") or None),
            observed_at=scanned_at))
    not_checked = tuple(NotChecked(resource=f"code:{repo_path(str(e.get('filename', '?')), root)}",
                                   reason=str(e.get("reason", "could not be scanned")))
                        for e in report.get("errors") or [])
    covered = tuple(_covered(repo_path(t, root)) for t in targets)
    return ScanResult(source=SOURCE, scanned_at=scanned_at, complete=True, covered=covered,
                      findings=tuple(findings), not_checked=not_checked)
