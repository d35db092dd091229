"""The weekly per-organization security report: summary, risk score, breakdown, trend, recommendations.

Computed from what is stored (the alert store and the per-day event tally), never from one Lambda's
memory, so any run, repeated or late, reports the same week the same way.

A week is Monday 00:00 UTC (inclusive) to the next Monday 00:00 UTC (exclusive); it is named by its
Monday (``2026-11-23``).

Summary counts follow the seed's ``generate_security_report``, with one deliberate difference: the seed
counted *events* by severity; events are no longer kept one by one, so ``critical_events`` and
``high_events`` count the week's **alerts** of that severity. The others: ``total_events`` (every counted
application event), ``failed_logins`` (``login_failed``), ``data_exports`` (every event type containing
``export``), ``privilege_changes`` (``role_changed``), ``gdpr_requests_overdue`` (``gdpr_violation_risk``
alerts), ``unique_entities`` (distinct alert entities: users, IPs, requests).

Risk score, exactly the seed's formula: ``critical × 25 + high × 10``, ``+15`` if more than 50 failed
logins, ``+30`` if any GDPR request is overdue, capped at 100. Level ``high`` at >= 50, ``medium`` at
>= 25, ``low`` otherwise.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal, Protocol
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import OpsError
from churnguard_ops.core.ports import Documents
from churnguard_ops.security.model import Alert, Severity
from churnguard_ops.security.ports import AlertStore, EventTally
from churnguard_ops.security.report_html import render_report_html

RiskLevel = Literal["low", "medium", "high"]
Direction = Literal["up", "down", "flat"]

SCHEMA_VERSION = 1
WEEK = timedelta(days=7)
TOP_ENTITIES = 5

# The seed's formula.
CRITICAL_POINTS = 25
HIGH_POINTS = 10
FAILED_LOGINS_THRESHOLD = 50
FAILED_LOGINS_POINTS = 15
GDPR_OVERDUE_POINTS = 30
MAX_SCORE = 100
HIGH_LEVEL_AT = 50
MEDIUM_LEVEL_AT = 25

SEVERITY_RANK: Mapping[str, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
LEVEL_RANK: Mapping[str, int] = {"low": 0, "medium": 1, "high": 2}


# -- weeks --------------------------------------------------------------------------------------------

def week_start_of(moment: datetime | date) -> date:
    """The Monday (UTC) of the week ``moment`` falls in."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError(f"{moment!r}: a time must be timezone-aware")
        moment = moment.astimezone(timezone.utc).date()
    return moment - timedelta(days=moment.weekday())


def last_complete_week(now: datetime) -> date:
    """The Monday of the last week that has ended by ``now`` (on a Monday 06:00: the week before)."""
    return week_start_of(now) - WEEK


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, next Monday 00:00 UTC). Raises ValueError when ``week_start`` is no Monday."""
    if isinstance(week_start, datetime) or week_start.weekday() != 0:
        raise ValueError(f"week_start {week_start}: must be a Monday (date), the week's first day")
    start = datetime.combine(week_start, time(0), tzinfo=timezone.utc)
    return start, start + WEEK


# -- the report model ---------------------------------------------------------------------------------

class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportSummary(_Frozen):
    total_events: int = Field(ge=0)
    alerts: int = Field(ge=0)
    critical_events: int = Field(ge=0, description="alerts of severity critical (the seed counted events)")
    high_events: int = Field(ge=0, description="alerts of severity high (the seed counted events)")
    failed_logins: int = Field(ge=0)
    data_exports: int = Field(ge=0)
    privilege_changes: int = Field(ge=0)
    gdpr_requests_overdue: int = Field(ge=0)
    unique_entities: int = Field(ge=0)


class RiskFactor(_Frozen):
    factor: str
    points: int
    detail: str


class RiskAssessment(_Frozen):
    score: int = Field(ge=0, le=MAX_SCORE)
    level: RiskLevel
    uncapped: int = Field(ge=0)
    factors: list[RiskFactor]


class EntityCount(_Frozen):
    entity: str
    alerts: int


class DetectorBreakdown(_Frozen):
    detector: str
    severity: Severity
    alerts: int
    entities: int = Field(description="distinct entities")
    first_at: datetime
    last_at: datetime
    top_entities: list[EntityCount]
    recommended_action: str


class TrendItem(_Frozen):
    metric: str
    this_week: int
    last_week: int
    delta: int
    direction: Direction
    change_pct: float | None = Field(description="None when last week was 0")


class Recommendation(_Frozen):
    priority: Severity
    detector: str | None
    text: str


class OrgSecurityReport(_Frozen):
    schema_version: int = SCHEMA_VERSION
    organization_id: str
    week_start: date
    week_end: date = Field(description="exclusive: the next Monday")
    generated_at: datetime | None = None
    partial: bool = Field(default=False, description="generated before the week ended")
    summary: ReportSummary
    risk: RiskAssessment
    last_week_risk: RiskAssessment
    breakdown: list[DetectorBreakdown]
    trend: list[TrendItem]
    recommendations: list[Recommendation]
    event_counts: dict[str, int]
    notes: list[str]

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# -- pure computation ---------------------------------------------------------------------------------

def summarize(alerts: Sequence[Alert], counts: Mapping[str, int]) -> ReportSummary:
    by_severity = Counter(a.severity for a in alerts)
    return ReportSummary(
        total_events=sum(counts.values()),
        alerts=len(alerts),
        critical_events=by_severity["critical"],
        high_events=by_severity["high"],
        failed_logins=counts.get("login_failed", 0),
        data_exports=sum(n for event_type, n in counts.items() if "export" in event_type.lower()),
        privilege_changes=counts.get("role_changed", 0),
        gdpr_requests_overdue=sum(1 for a in alerts if a.detector == "gdpr_violation_risk"),
        unique_entities=len({a.entity for a in alerts}),
    )


def risk_of(summary: ReportSummary) -> RiskAssessment:
    """The seed's score: critical × 25 + high × 10 (+15 if failed logins > 50) (+30 if any GDPR request is
    overdue), capped at 100; high at >= 50, medium at >= 25."""
    factors = [RiskFactor(factor="critical_alerts", points=summary.critical_events * CRITICAL_POINTS,
                          detail=f"{summary.critical_events} critical × {CRITICAL_POINTS}"),
               RiskFactor(factor="high_alerts", points=summary.high_events * HIGH_POINTS,
                          detail=f"{summary.high_events} high × {HIGH_POINTS}")]
    if summary.failed_logins > FAILED_LOGINS_THRESHOLD:
        factors.append(RiskFactor(factor="failed_logins", points=FAILED_LOGINS_POINTS,
                                  detail=f"{summary.failed_logins} failed logins > {FAILED_LOGINS_THRESHOLD}"))
    if summary.gdpr_requests_overdue > 0:
        factors.append(RiskFactor(factor="gdpr_overdue", points=GDPR_OVERDUE_POINTS,
                                  detail=plural(summary.gdpr_requests_overdue, "overdue data-subject request")))
    uncapped = sum(f.points for f in factors)
    score = min(MAX_SCORE, uncapped)
    return RiskAssessment(score=score, level=level_of(score), uncapped=uncapped,
                          factors=[f for f in factors if f.points])


def level_of(score: int) -> RiskLevel:
    return "high" if score >= HIGH_LEVEL_AT else "medium" if score >= MEDIUM_LEVEL_AT else "low"


def breakdown_of(alerts: Sequence[Alert]) -> list[DetectorBreakdown]:
    """One row per detector that fired, most severe and most frequent first."""
    grouped: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        grouped[alert.detector].append(alert)
    rows = []
    for detector, group in grouped.items():
        entities = Counter(a.entity for a in group)
        top = sorted(entities.items(), key=lambda item: (-item[1], item[0]))[:TOP_ENTITIES]
        worst = max(group, key=lambda a: SEVERITY_RANK[a.severity])
        rows.append(DetectorBreakdown(
            detector=detector, severity=worst.severity, alerts=len(group), entities=len(entities),
            first_at=min(a.timestamp for a in group), last_at=max(a.timestamp for a in group),
            top_entities=[EntityCount(entity=e, alerts=n) for e, n in top],
            recommended_action=worst.recommended_action))
    return sorted(rows, key=lambda r: (-SEVERITY_RANK[r.severity], -r.alerts, r.detector))


#: The trend's metrics, in the order a reader wants them.
TREND_METRICS = ("risk_score", "alerts", "critical_events", "high_events", "failed_logins", "data_exports",
                 "privilege_changes", "gdpr_requests_overdue", "unique_entities", "total_events")


def trend_of(this_week: ReportSummary, last_week: ReportSummary, this_risk: RiskAssessment,
             last_risk: RiskAssessment) -> list[TrendItem]:
    now = {**this_week.model_dump(), "risk_score": this_risk.score}
    before = {**last_week.model_dump(), "risk_score": last_risk.score}
    items = []
    for metric in TREND_METRICS:
        current, previous = int(now[metric]), int(before[metric])
        delta = current - previous
        items.append(TrendItem(metric=metric, this_week=current, last_week=previous, delta=delta,
                               direction="up" if delta > 0 else "down" if delta < 0 else "flat",
                               change_pct=round(delta / previous * 100, 1) if previous else None))
    return items


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural_form or singular + 's'}"


#: detector -> (priority, what its entities are (singular, plural), advice; ``{what}`` is "2 source IPs").
_ADVICE: Mapping[str, tuple[Severity, tuple[str, str], str]] = {
    "brute_force_login": (
        "high", ("source IP", "source IPs"),
        "Brute-force logins from {what} ({top}): turn on WAF remediation (security.remediation with dry_run "
        "false) and require MFA for the targeted accounts."),
    "console_brute_force": (
        "high", ("source IP", "source IPs"),
        "Console sign-in brute force from {what} ({top}): require MFA for console users, review the targeted "
        "IAM users and turn on WAF remediation (security.remediation with dry_run false)."),
    "data_exfiltration": (
        "critical", ("user", "users"),
        "Unusual data exports by {what} ({top}): review who holds the export permission, suspend it where "
        "unexpected and check what was exported."),
    "privilege_escalation": (
        "high", ("user", "users"),
        "Role changes to privileged roles for {what} ({top}): confirm each with the organization's owner and "
        "revert the unexpected ones."),
    "gdpr_violation_risk": (
        "critical", ("overdue data-subject request", "overdue data-subject requests"),
        "{what} ({top}): escalate to the data protection officer and complete them now (GDPR Art. 12(3))."),
    "unusual_access": (
        "medium", ("user", "users"),
        "Sign-ins at unusual hours or places by {what} ({top}): ask the users to confirm them; force a password "
        "reset and MFA where they did not."),
}


def recommendations_for(summary: ReportSummary, breakdown: Sequence[DetectorBreakdown], risk: RiskAssessment,
                        last_risk: RiskAssessment) -> list[Recommendation]:
    """What to do, from what fired: one per detector, plus the failed-login volume and a rising risk level;
    ``No action needed`` when nothing calls for any."""
    found: list[Recommendation] = []
    for row in breakdown:
        top = ", ".join(e.entity for e in row.top_entities[:3]) + (", ..." if len(row.top_entities) > 3 else "")
        advice = _ADVICE.get(row.detector)
        if advice is None:
            found.append(Recommendation(priority=row.severity, detector=row.detector,
                                        text=f"{row.detector} ({row.alerts} alerts, {top}): {row.recommended_action}"))
        else:
            priority, (singular, plural_form), text = advice
            found.append(Recommendation(priority=priority, detector=row.detector,
                                        text=text.format(what=plural(row.entities, singular, plural_form), top=top)))
    fired = {row.detector for row in breakdown}
    if summary.failed_logins > FAILED_LOGINS_THRESHOLD and "brute_force_login" not in fired:
        found.append(Recommendation(
            priority="medium", detector=None,
            text=f"{summary.failed_logins} failed logins this week without a brute-force alert: find where they "
                 f"come from; the brute_force_login threshold may be too high for this organization."))
    if LEVEL_RANK[risk.level] > LEVEL_RANK[last_risk.level]:
        found.append(Recommendation(
            priority="high" if risk.level == "high" else "medium", detector=None,
            text=f"Risk rose from {last_risk.level} ({last_risk.score}) to {risk.level} ({risk.score}) week on "
                 f"week: review this week's alerts first."))
    if not found:
        return [Recommendation(priority="low", detector=None, text="No action needed: no alerts this week.")]
    return sorted(found, key=lambda r: (-SEVERITY_RANK[r.priority], r.detector or "~"))


def build_org_report(org: str, week_start: date, alerts_this_week: Sequence[Alert],
                     alerts_last_week: Sequence[Alert], counts_this_week: Mapping[str, int],
                     counts_last_week: Mapping[str, int], *, generated_at: datetime | None = None
                     ) -> OrgSecurityReport:
    """One organization's report for the week starting ``week_start`` (a Monday)."""
    _, end = week_bounds(week_start)
    this_summary, last_summary = summarize(alerts_this_week, counts_this_week), summarize(alerts_last_week,
                                                                                        counts_last_week)
    risk, last_risk = risk_of(this_summary), risk_of(last_summary)
    breakdown = breakdown_of(alerts_this_week)
    notes = ["critical_events and high_events count this week's alerts of that severity (the seed counted "
             "events).",
             "A week runs from Monday 00:00 UTC to the next Monday 00:00 UTC; times are event times."]
    partial = generated_at is not None and generated_at < end
    if partial:
        notes.append("Generated before the week ended: the counts are not final.")
    return OrgSecurityReport(
        organization_id=org, week_start=week_start, week_end=end.date(), generated_at=generated_at,
        partial=partial, summary=this_summary, risk=risk, last_week_risk=last_risk, breakdown=breakdown,
        trend=trend_of(this_summary, last_summary, risk, last_risk),
        recommendations=recommendations_for(this_summary, breakdown, risk, last_risk),
        event_counts=dict(sorted((k, int(v)) for k, v in counts_this_week.items())), notes=notes)


# -- the use case -------------------------------------------------------------------------------------

class HtmlPages(Protocol):
    """HTML pages in the reports bucket."""

    def put_html(self, key: str, html: str) -> str:
        """Store ``html`` (UTF-8, ``text/html``) under ``key``; returns its location (``s3://bucket/key``)."""
        ...


def org_key(prefix: str, org: str, week_start: date, extension: str) -> str:
    """``<prefix><org>/<week>.<extension>``; the organization id is URL-quoted (it comes from the app:
    a ``/`` in it must not make a folder)."""
    return f"{prefix}{quote(org, safe='')}/{week_start.isoformat()}.{extension}"


def index_key(prefix: str, week_start: date) -> str:
    return f"{prefix}{week_start.isoformat()}/index.json"


@dataclass
class ReportRun:
    """What a run wrote: one entry per organization (highest risk first), the index, and the failures."""

    week_start: date
    reports: list[dict[str, Any]] = field(default_factory=list)
    index: str | None = None
    failures: dict[str, str] = field(default_factory=dict)

    def line(self) -> dict[str, Any]:
        return {"week_start": self.week_start.isoformat(), "organizations": len(self.reports),
                "index": self.index, "failures": dict(self.failures),
                "high_risk": [r["organization_id"] for r in self.reports if r["risk_level"] == "high"]}


class WeeklyReportsIncomplete(OpsError):
    """Some organizations' reports could not be written (the others were, and the index lists them)."""

    def __init__(self, message: str, run: ReportRun) -> None:
        super().__init__(message)
        self.run = run


class WeeklyReports:
    """One report per organization for a week: JSON (``documents``) and HTML (``pages``), plus an index.

    Organizations: those with counted events in the week or the week before (the tally knows them; the
    alert store has no listing; an organization's alerts come from its events, so none is missed).
    Alerts without an organization (CloudTrail's) belong to no organization's report.
    ``prefix`` is ``core.contracts.SECURITY_REPORTS_PREFIX`` in the wiring.
    """

    def __init__(self, alerts: AlertStore, tally: EventTally, documents: Documents, pages: HtmlPages, clock: Clock,
                 *, prefix: str) -> None:
        if not prefix or not prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r}: a folder, ending in '/'")
        self.alerts = alerts
        self.tally = tally
        self.documents = documents
        self.pages = pages
        self.clock = clock
        self.prefix = prefix

    def run(self, week_start: date | None = None, organizations: Iterable[str] | None = None) -> ReportRun:
        """Write the reports of ``week_start`` (None: the last complete week) for every organization (or
        only ``organizations``). Tries every organization; raises WeeklyReportsIncomplete afterwards when
        any failed."""
        now = self.clock()
        week = week_start if week_start is not None else last_complete_week(now)
        start, end = week_bounds(week)
        last_start = start - WEEK
        orgs = set(organizations) if organizations is not None else \
            self.tally.organizations(last_start.date(), end.date())
        run = ReportRun(week_start=week)
        for org in sorted(orgs):
            try:
                report = build_org_report(
                    org, week, self.alerts.alerts(org, start, end), self.alerts.alerts(org, last_start, start),
                    self.tally.counts(org, start.date(), end.date()),
                    self.tally.counts(org, last_start.date(), start.date()), generated_at=now)
                json_at = self.documents.save(org_key(self.prefix, org, week, "json"), report.document())
                html_at = self.pages.put_html(org_key(self.prefix, org, week, "html"), render_report_html(report))
            except OpsError as exc:
                run.failures[org] = f"{type(exc).__name__}: {exc}"
                continue
            run.reports.append({"organization_id": org, "risk_score": report.risk.score,
                                "risk_level": report.risk.level, "alerts": report.summary.alerts,
                                "json": json_at, "html": html_at})
        run.reports.sort(key=lambda r: (-r["risk_score"], r["organization_id"]))
        run.index = self.documents.save(index_key(self.prefix, week), {
            "schema_version": SCHEMA_VERSION, "week_start": week.isoformat(), "week_end": end.date().isoformat(),
            "generated_at": now.isoformat(), "partial": now < end, "organizations": run.reports,
            "failures": run.failures})
        if run.failures:
            raise WeeklyReportsIncomplete(f"security reports of week {week}: {len(run.failures)} of {len(orgs)} "
                                          f"organizations failed: {sorted(run.failures)}", run)
        return run
