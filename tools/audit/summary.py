"""The audit summary (``summary.json`` + ``summary.md``): per source its status and findings by severity, what
was not checked and why, and the exceptions file's status. A source that did not check is never shown clean."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from churnguard_ops.vulns.exceptions import EXPIRING_DAYS, FILE_NAME, ExceptionSet, describe
from churnguard_ops.vulns.model import SEVERITY_ORDER, ScanResult
from tools.audit.scanners import Outcome

#: Open findings listed per source in the Markdown (the JSON reports hold all of them).
MD_FINDINGS_PER_SOURCE = 25


@dataclass(frozen=True)
class LockStatus:
    file: str
    distributions: int
    problem: str | None = None


def _source(outcome: Outcome, scan: ScanResult, exceptions: ExceptionSet) -> dict[str, Any]:
    checked = outcome.checked and scan.complete
    open_findings = [f for f in scan.findings if exceptions.match(f) is None]
    by_severity = Counter(f.severity for f in scan.findings)
    open_by_severity = Counter(f.severity for f in open_findings)
    parts = [*outcome.not_checked, *(f"{n.resource}: {n.reason}" if n.resource else n.reason
                                     for n in scan.not_checked if checked)]
    return {
        "source": outcome.source,
        "status": ("partly checked" if parts else "checked") if checked else "not checked",
        "reason": None if checked else (outcome.reason or "; ".join(n.reason for n in scan.not_checked)),
        "reports": [str(p) for p in outcome.reports],
        "findings": len(scan.findings),
        "open": len(open_findings),
        "excepted": len(scan.findings) - len(open_findings),
        "by_severity": {s: by_severity[s] for s in SEVERITY_ORDER if by_severity[s]},
        "open_by_severity": {s: open_by_severity[s] for s in SEVERITY_ORDER if open_by_severity[s]},
        "not_checked": sorted(set(parts)),
        "open_findings": [{"id": f.vuln_id, "severity": f.severity, "resource": f.resource, "title": f.title,
                           "package": f.package, "version": f.version, "fixed_versions": list(f.fixed_versions),
                           "severity_note": f.severity_note}
                          for f in sorted(open_findings, key=lambda f: (SEVERITY_ORDER.index(f.severity), f.key))],
    }


def build(outcomes: Sequence[Outcome], scans: dict[str, ScanResult], exceptions: ExceptionSet, lock: LockStatus,
          *, generated_at: datetime, today: date) -> dict[str, Any]:
    sources = [_source(o, scans[o.source], exceptions) for o in outcomes]
    findings = [f for s in scans.values() for f in s.findings]
    unmatched = [e for e in exceptions.active if not any(exceptions.match(f) is e for f in findings)]
    exceptions_ok = exceptions.ok
    return {
        "generated_at": generated_at.isoformat(),
        "ok": exceptions_ok and lock.problem is None,
        "sources": sources,
        "not_checked_sources": [s["source"] for s in sources if s["status"] == "not checked"],
        "exceptions": {
            "file": FILE_NAME,
            "valid": exceptions_ok,
            "problems": list(exceptions.problems),
            "active": len(exceptions.active),
            "expired": describe(exceptions.expired),
            f"expiring_within_{EXPIRING_DAYS}_days": describe(exceptions.expiring(today)),
            "matching_no_build_finding": describe(unmatched),
        },
        "lock": {"file": lock.file, "distributions": lock.distributions, "problem": lock.problem},
    }


def _cell(counts: dict[str, int], severity: str) -> str:
    return str(counts.get(severity, 0))


def markdown(summary: dict[str, Any]) -> str:
    """The human summary. "not checked" always carries its reason."""
    lines = ["# Build-time security audit", "",
             f"Generated {summary['generated_at']}. Sources: static analysis (bandit), the layer's locked "
             "dependencies (pip-audit), the synthesized templates (cdk-nag, cfn-lint).", "",
             "| Source | Status | Findings | " + " | ".join(SEVERITY_ORDER) + " | Excepted | Open |",
             "|---|---|---:|" + "---:|" * len(SEVERITY_ORDER) + "---:|---:|"]
    for s in summary["sources"]:
        if s["status"] == "not checked":
            lines.append(f"| {s['source']} | not checked | - |" + " - |" * len(SEVERITY_ORDER) + " - | - |")
        else:
            lines.append(f"| {s['source']} | {s['status']} | {s['findings']} | "
                         + " | ".join(_cell(s["by_severity"], sev) for sev in SEVERITY_ORDER)
                         + f" | {s['excepted']} | {s['open']} |")
    lines.append("")
    for s in summary["sources"]:
        if s["status"] == "not checked":
            lines.append(f"- **{s['source']}: not checked ({s['reason']})**")
    if any(s["status"] == "not checked" for s in summary["sources"]):
        lines.append("")
    if any(f["severity"] == "unknown" for s in summary["sources"] for f in s["open_findings"]):
        lines += ["Severity `unknown`: the source gave none (pip-audit) and no CVSS was known; the SLA treats it "
                  "as high.", ""]
    partial = [s for s in summary["sources"] if s["not_checked"]]
    if partial:
        lines += ["## Not checked", ""]
        for s in partial:
            lines.append(f"- {s['source']}:")
            lines += [f"  - {part}" for part in s["not_checked"]]
        lines.append("")
    lines += ["## Open findings", ""]
    for s in summary["sources"]:
        if s["status"] == "not checked":
            continue
        shown = s["open_findings"][:MD_FINDINGS_PER_SOURCE]
        heading = f"- {s['source']}: {s['open']} open" + (f", {s['excepted']} excepted" if s["excepted"] else "")
        lines.append(heading + (":" if shown else ""))
        lines += [f"  - {f['severity']} `{f['id']}` {f['resource']}: {f['title']}" for f in shown]
        if len(s["open_findings"]) > len(shown):
            lines.append(f"  - ... {len(s['open_findings']) - len(shown)} more in summary.json")
    lines.append("")
    ex = summary["exceptions"]
    lines += [f"## Exceptions ({ex['file']})", ""]
    lines.append(f"{ex['active']} active; " + ("valid." if ex["valid"] else "**INVALID** (make audit fails):"))
    lines += [f"- {p}" for p in ex["problems"]]
    for title, key in ((f"Expiring within {EXPIRING_DAYS} days", f"expiring_within_{EXPIRING_DAYS}_days"),
                       ("Expired (the ledger reopens what they covered)", "expired"),
                       ("Matching no finding of this audit (Inspector's, or no longer needed)",
                        "matching_no_build_finding")):
        if ex[key]:
            lines += ["", f"{title}:", *(f"- {item}" for item in ex[key])]
    lock = summary["lock"]
    lines += ["", "## Layer lock", "",
              f"{lock['file']}: {lock['distributions']} distributions"
              + (f"; **{lock['problem']}**" if lock["problem"] else ", consistent with requirements.txt."), ""]
    return "\n".join(lines)
