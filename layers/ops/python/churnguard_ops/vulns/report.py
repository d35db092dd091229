"""The vulnerability report: the seed's summary sections (per source, critical findings, SLA breaches,
exceptions expiring soon, recommendations, next steps) built from the ledger; rendered as JSON here, as
Markdown in :mod:`.report_markdown` and as SARIF 2.1.0 in :mod:`.report_sarif`.

A source with no scan, or whose scan could not reach its advisories, is "not checked", never "clean".
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core.contracts import VULN_SOURCES
from churnguard_ops.vulns.exceptions import EXPIRING_DAYS, ExceptionSet
from churnguard_ops.vulns.keys import severity_rank
from churnguard_ops.vulns.model import (
    ACTIONABLE_STATES,
    SEVERITY_ORDER,
    Cvss,
    Epss,
    ExceptionRef,
    LedgerEntry,
    Location,
    NotChecked,
    RiskException,
    ScanSummary,
    Severity,
    SlaPolicy,
    State,
)
from churnguard_ops.vulns.sla import days_open, with_sla

UNKNOWN_SEVERITY_NOTE = ("pip-audit gives no severity: a finding without CVSS from any source is 'unknown' and its "
                         "SLA clock runs as high")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSummary(_Frozen):
    source: str
    #: checked: a complete scan; partial: some resources or dependencies not checked; not checked: no usable scan.
    status: Literal["checked", "partial", "not checked"]
    last_scan_at: datetime | None = None
    complete: bool = False
    #: Open and reopened findings this source reports, by severity.
    open_by_severity: dict[str, int] = Field(default_factory=dict)
    not_checked: tuple[NotChecked, ...] = ()


class ReportFinding(_Frozen):
    key: str
    vuln_id: str
    aliases: tuple[str, ...] = ()
    package: str | None = None
    version: str | None = None
    fixed_versions: tuple[str, ...] = ()
    rule: str | None = None
    resource: str
    sources: tuple[str, ...]
    severity: Severity
    severity_note: str | None = None
    cvss: Cvss | None = None
    epss: Epss | None = None
    state: State
    first_seen: datetime
    last_seen: datetime
    days_open: int
    sla_due: datetime | None = None
    sla_breached: bool = False
    title: str
    url: str | None = None
    location: Location | None = None
    exception: ExceptionRef | None = None


class ExceptionLine(_Frozen):
    id: str
    package: str
    resource: str
    approver: str
    reason: str
    expires: date
    days_left: int


class Recommendation(_Frozen):
    text: str
    package: str | None = None
    target_version: str | None = None
    fixes: int = Field(ge=0)
    keys: tuple[str, ...] = ()


class VulnReport(_Frozen):
    generated_at: datetime
    sla_days: dict[str, int]
    totals: dict[str, int]
    open_by_severity: dict[str, int]
    sources: tuple[SourceSummary, ...]
    critical: tuple[ReportFinding, ...]
    sla_breaches: tuple[ReportFinding, ...]
    expiring_exceptions: tuple[ExceptionLine, ...]
    expired_exceptions: tuple[ExceptionLine, ...]
    exception_problems: tuple[str, ...]
    recommendations: tuple[Recommendation, ...]
    next_steps: tuple[str, ...]
    notes: tuple[str, ...]
    #: Every open, reopened and excepted finding, worst first.
    findings: tuple[ReportFinding, ...]


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders PEP 440 release versions (``1.26.18`` < ``2.0.6`` < ``2.0.10``) without third-party code; a
    non-numeric part sorts before a number (``2.0rc1`` < ``2.0``)."""
    parts = re.findall(r"\d+|[A-Za-z]+", version)
    return tuple((int(p), "") if p.isdigit() else (-1, p.lower()) for p in parts)


def _line(entry: LedgerEntry, now: datetime) -> ReportFinding:
    f = entry.finding
    return ReportFinding(key=entry.key, vuln_id=f.vuln_id, aliases=f.aliases, package=f.package, version=f.version,
                         fixed_versions=f.fixed_versions, rule=f.rule, resource=f.resource, sources=f.sources,
                         severity=f.severity, severity_note=f.severity_note, cvss=f.cvss, epss=f.epss,
                         state=entry.state, first_seen=entry.first_seen, last_seen=entry.last_seen,
                         days_open=days_open(entry, now), sla_due=entry.sla_due, sla_breached=entry.sla_breached,
                         title=f.title, url=f.url, location=f.location, exception=entry.exception)


def _worst_first(line: ReportFinding) -> tuple[float, bool, float, str]:
    # unknown sorts with high (just after it): its SLA clock runs as high
    rank = severity_rank("high") + 0.5 if line.severity == "unknown" else severity_rank(line.severity)
    return (rank, not line.sla_breached, -(line.cvss.score if line.cvss else 0.0), line.key)


def _sources(entries: Sequence[LedgerEntry], scans: Sequence[ScanSummary]) -> tuple[SourceSummary, ...]:
    latest: dict[str, ScanSummary] = {}
    for summary in scans:
        if summary.source not in latest or summary.scanned_at > latest[summary.source].scanned_at:
            latest[summary.source] = summary
    out = []
    for source in VULN_SOURCES:
        scan = latest.get(source)
        counts = Counter(e.finding.severity for e in entries
                         if e.state in ACTIONABLE_STATES and source in e.reporting)
        by_severity = {s: counts[s] for s in SEVERITY_ORDER if counts[s]}
        if scan is None:
            out.append(SourceSummary(source=source, status="not checked", open_by_severity=by_severity,
                                     not_checked=(NotChecked(reason="no scan received"),)))
            continue
        whole = any(n.resource is None for n in scan.not_checked)
        status: Literal["checked", "partial", "not checked"] = (
            "not checked" if whole else "partial" if scan.not_checked or not scan.complete else "checked")
        out.append(SourceSummary(source=source, status=status, last_scan_at=scan.scanned_at, complete=scan.complete,
                                 open_by_severity=by_severity, not_checked=scan.not_checked))
    return tuple(out)


def _target(line: ReportFinding) -> str | None:
    """The smallest fixed version above the installed one (the first fix of its release line)."""
    fixes = sorted(line.fixed_versions, key=version_key)
    if line.version:
        fixes = [v for v in fixes if version_key(v) > version_key(line.version)]
    return fixes[0] if fixes else None


def recommendations(open_lines: Sequence[ReportFinding]) -> tuple[Recommendation, ...]:
    """Per package: the one upgrade that fixes all its findings with a fix ("upgrade urllib3 1.26.16 to 1.26.18
    fixes 2 findings"); packages with no fix yet; then rules by how many resources break them."""
    out: list[Recommendation] = []
    by_package: dict[str, list[ReportFinding]] = {}
    for line in open_lines:
        if line.package:
            by_package.setdefault(line.package, []).append(line)
    for package, lines in by_package.items():
        fixable = [(line, t) for line in lines if (t := _target(line))]
        if fixable:
            target = max((t for _, t in fixable), key=version_key)
            installed = ", ".join(sorted({line.version for line, _ in fixable if line.version}, key=version_key))
            resources = ", ".join(sorted({line.resource for line, _ in fixable}))
            ids = ", ".join(sorted({line.vuln_id for line, _ in fixable}))
            out.append(Recommendation(
                text=f"upgrade {package} {installed or '(version unknown)'} to {target} on {resources}: fixes "
                     f"{len(fixable)} finding{'s' if len(fixable) != 1 else ''} ({ids})",
                package=package, target_version=target, fixes=len(fixable), keys=tuple(sorted(line.key for line, _ in
                                                                                              fixable))))
        unfixable = [line for line in lines if not _target(line)]
        if unfixable:
            ids = ", ".join(sorted({line.vuln_id for line in unfixable}))
            out.append(Recommendation(
                text=f"{package}: no fixed version yet for {ids}: remove or replace it, or record an exception "
                     "with a reason and an expiry", package=package, fixes=0,
                keys=tuple(sorted(line.key for line in unfixable))))
    by_rule: dict[str, list[ReportFinding]] = {}
    for line in open_lines:
        if line.rule and not line.package:
            by_rule.setdefault(line.rule, []).append(line)
    for rule, lines in by_rule.items():
        sources = "/".join(sorted({s for line in lines for s in line.sources}))
        out.append(Recommendation(
            text=f"fix {rule} ({sources}) on {len(lines)} resource{'s' if len(lines) != 1 else ''}: "
                 f"{lines[0].title}", fixes=len(lines), keys=tuple(sorted(line.key for line in lines))))
    # upgrades first (most findings fixed first), then packages with no fix, then rules
    return tuple(sorted(out, key=lambda r: (0 if r.target_version else 1 if r.package else 2, -r.fixes, r.text)))


def gap(item: NotChecked) -> str:
    """One "not checked" item as a phrase."""
    return item.reason if item.resource is None else f"{item.resource}: {item.reason}"


def _exception_line(e: RiskException, today: date) -> ExceptionLine:
    return ExceptionLine(id=e.id, package=e.package, resource=e.resource, approver=e.approver, reason=e.reason,
                         expires=e.expires, days_left=(e.expires - today).days)


def _next_steps(report_lines: Sequence[ReportFinding], breaches: Sequence[ReportFinding],
                critical: Sequence[ReportFinding], expiring: Sequence[ExceptionLine], problems: Sequence[str],
                sources: Sequence[SourceSummary], recs: Sequence[Recommendation]) -> tuple[str, ...]:
    steps: list[str] = []
    if breaches:
        oldest = max(breaches, key=lambda line: line.days_open)
        steps.append(f"Fix the {len(breaches)} finding(s) past their SLA first (oldest: {oldest.vuln_id} on "
                     f"{oldest.resource}, {oldest.days_open} days open).")
    if critical:
        steps.append(f"Fix the {len(critical)} critical finding(s) (SLA {critical[0].sla_due:%Y-%m-%d} at the "
                     "latest)." if critical[0].sla_due else f"Fix the {len(critical)} critical finding(s).")
    fixes = [r for r in recs if r.target_version]
    if fixes:
        steps.append(f"Apply the upgrades: {'; '.join(r.text for r in fixes[:3])}.")
    if problems:
        steps.append(f"Fix vulnerability-exceptions.toml ({len(problems)} problem(s)): {problems[0]}.")
    if expiring:
        steps.append("Renew (with a new approval) or fix before expiry: "
                     + ", ".join(f"{e.id} on {e.resource} ({e.expires})" for e in expiring) + ".")
    blind = [s for s in sources if s.status != "checked"]
    if blind:
        steps.append("Restore what was not checked: " + "; ".join(
            f"{s.source} ({s.status}: {', '.join(gap(n) for n in s.not_checked[:3]) or 'incomplete scan'})"
            for s in blind) + ".")
    unknown = [line for line in report_lines if line.severity == "unknown" and line.state in ACTIONABLE_STATES]
    if unknown:
        steps.append(f"Triage the {len(unknown)} finding(s) with no severity (clocked as high): "
                     + ", ".join(sorted({line.vuln_id for line in unknown})) + ".")
    if not steps:
        steps.append("Nothing to do: no open findings, every source checked.")
    return tuple(steps)


def build_report(entries: Sequence[LedgerEntry], scans: Sequence[ScanSummary], exceptions: ExceptionSet,
                 policy: SlaPolicy, now: datetime, *, expiring_days: int = EXPIRING_DAYS) -> VulnReport:
    """The report as of ``now`` (SLA recomputed for ``now``, whatever the stored flags say)."""
    today = now.date()
    current = [with_sla(e, policy, now) for e in entries]
    live = sorted((_line(e, now) for e in current if e.state != "fixed"), key=_worst_first)
    actionable = [line for line in live if line.state in ACTIONABLE_STATES]
    critical = tuple(line for line in actionable if line.severity == "critical")
    breaches = tuple(sorted((line for line in actionable if line.sla_breached), key=lambda x: -x.days_open))
    states = Counter(e.state for e in current)
    severities = Counter(line.severity for line in actionable)
    sources = _sources(current, scans)
    expiring = tuple(_exception_line(e, today) for e in exceptions.expiring(today, expiring_days))
    expired = tuple(_exception_line(e, today) for e in exceptions.expired)
    recs = recommendations(actionable)
    notes = [f"SLA: {', '.join(f'{k} {v} days' for k, v in policy.days.items())}, counted from first seen (a "
             "reopened finding keeps its first sighting: the clock does not restart); breached after the deadline."]
    if any(line.severity == "unknown" for line in live):
        notes.append(UNKNOWN_SEVERITY_NOTE)
    return VulnReport(
        generated_at=now, sla_days=dict(policy.days), totals={s: states[s] for s in ("open", "reopened", "excepted",
                                                                                      "fixed")},
        open_by_severity={s: severities[s] for s in SEVERITY_ORDER if severities[s]}, sources=sources,
        critical=critical, sla_breaches=breaches, expiring_exceptions=expiring, expired_exceptions=expired,
        exception_problems=exceptions.problems, recommendations=recs,
        next_steps=_next_steps(live, breaches, critical, expiring, exceptions.problems, sources, recs),
        notes=tuple(notes), findings=tuple(live))


def to_json(report: VulnReport) -> str:
    return report.model_dump_json(indent=2)
