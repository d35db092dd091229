"""The vulnerability report as Markdown: the sections of the seed's summary, in the order a reader acts on."""
from __future__ import annotations

from collections.abc import Sequence

from churnguard_ops.vulns.model import SEVERITY_ORDER
from churnguard_ops.vulns.report import ExceptionLine, ReportFinding, VulnReport, gap

_SEVERITIES = [s for s in SEVERITY_ORDER if s != "informational"]


def _cell(value: object) -> str:
    """Table cells hold tool text: pipes and newlines would break the table."""
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _findings_table(lines: Sequence[ReportFinding]) -> list[str]:
    out = ["| Severity | Id | Package / rule | Resource | Sources | State | Days open | SLA due |",
           "|---|---|---|---|---|---|---|---|"]
    for f in lines:
        subject = f"{f.package} {f.version or ''}".strip() if f.package else (f.rule or "")
        due = f"{f.sla_due:%Y-%m-%d}{' **breached**' if f.sla_breached else ''}" if f.sla_due else "-"
        sev = f.severity + (f" (CVSS {f.cvss.score})" if f.cvss else "")
        out.append(f"| {_cell(sev)} | {_cell(f.vuln_id)} | {_cell(subject)} | {_cell(f.resource)} | "
                   f"{_cell(', '.join(f.sources))} | {f.state} | {f.days_open} | {due} |")
    return out


def _exceptions(lines: Sequence[ExceptionLine], when: str) -> list[str]:
    return [f"- {_cell(e.id)} ({_cell(e.package)} on `{_cell(e.resource)}`) {when} {e.expires} "
            f"({abs(e.days_left)} day{'s' if abs(e.days_left) != 1 else ''}{' ago' if e.days_left < 0 else ''}), "
            f"approved by {_cell(e.approver)}: {_cell(e.reason)}" for e in lines]


def render(report: VulnReport) -> str:
    r = report
    open_total = r.totals.get("open", 0) + r.totals.get("reopened", 0)
    out = [f"# Vulnerability report {r.generated_at:%Y-%m-%d %H:%M} UTC", "",
           f"{open_total} open ({r.totals.get('reopened', 0)} reopened), {r.totals.get('excepted', 0)} excepted, "
           f"{r.totals.get('fixed', 0)} fixed; {len(r.sla_breaches)} past SLA.", ""]
    if r.open_by_severity:
        out += ["Open by severity: " + ", ".join(f"{s} {n}" for s, n in r.open_by_severity.items()), ""]
    out += ["## Per source", "", "| Source | Status | Last scan | " + " | ".join(_SEVERITIES) + " | Not checked |",
            "|---|---|---|" + "---|" * len(_SEVERITIES) + "---|"]
    for s in r.sources:
        last = f"{s.last_scan_at:%Y-%m-%d %H:%M}" if s.last_scan_at else "-"
        counts = " | ".join(str(s.open_by_severity.get(sev, 0)) for sev in _SEVERITIES)
        gaps = "; ".join(_cell(gap(n)) for n in s.not_checked) or "-"
        out.append(f"| {s.source} | {s.status} | {last} | {counts} | {gaps} |")
    out += ["", "## Critical findings", ""]
    out += _findings_table(r.critical) if r.critical else ["None open."]
    out += ["", "## SLA breaches", ""]
    out += _findings_table(r.sla_breaches) if r.sla_breaches else ["None."]
    out += ["", "## Exceptions", ""]
    if r.expiring_exceptions:
        out += ["Expiring soon:", "", *_exceptions(r.expiring_exceptions, "expires on"), ""]
    if r.expired_exceptions:
        out += ["Expired (they no longer apply; what they covered is reopened):", "",
                *_exceptions(r.expired_exceptions, "expired on"), ""]
    if r.exception_problems:
        out += ["Problems in vulnerability-exceptions.toml:", "", *[f"- {_cell(p)}" for p in r.exception_problems],
                ""]
    if not (r.expiring_exceptions or r.expired_exceptions or r.exception_problems):
        out += ["None expiring, expired or invalid.", ""]
    out += ["## Recommendations", ""]
    out += [f"- {_cell(rec.text)}" for rec in r.recommendations] or ["None."]
    out += ["", "## Next steps", ""]
    out += [f"{i}. {_cell(step)}" for i, step in enumerate(r.next_steps, start=1)]
    out += ["", "## All open and excepted findings", ""]
    out += _findings_table(r.findings) if r.findings else ["None."]
    if r.notes:
        out += ["", "## Notes", "", *[f"- {_cell(n)}" for n in r.notes]]
    return "\n".join(out) + "\n"
