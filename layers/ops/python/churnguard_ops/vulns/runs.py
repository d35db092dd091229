"""What each vulnerability function runs: the ledger use case fed by one trigger's source.

- ``poll``: Inspector since the watermark (every status) and its coverage -> the ledger; the watermark moves
  only after the ledger has the findings (a failed run polls the same window again);
- ``on_finding``: one "Inspector2 Finding" event -> the ledger at once (the watermark is the poll's: the next
  poll sees the same finding again, which the ledger applies idempotently);
- ``ingest_build``: a build report's complete scan -> the ledger (what the scan no longer reports is fixed);
- ``report``: the ledger refreshed for the day (exceptions, SLA) -> the report in every format, an SNS summary.

Each run reads the exceptions file for the day (an expired exception reopens what it covered) and records
what its source could not check, which the report shows as "not checked" rather than clean.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from churnguard_ops.core.clock import Clock
from churnguard_ops.core.contracts import VULN_SOURCES
from churnguard_ops.core.ports import Notifier
from churnguard_ops.vulns.exceptions import ExceptionSet
from churnguard_ops.vulns.ledger import ApplyResult, Ledger
from churnguard_ops.vulns.model import Finding, NotChecked, ScanResult, ScanSummary, SlaPolicy
from churnguard_ops.vulns.ports import FindingSource, LedgerStore, ReportSink
from churnguard_ops.vulns.report import VulnReport, build_report

INSPECTOR = "inspector"


class LedgerState(LedgerStore, Protocol):
    """The ledger store plus what the runs keep beside the entries: watermarks and each source's latest scan."""

    def watermark(self, source: str) -> datetime | None: ...

    def save_watermark(self, source: str, at: datetime) -> bool: ...

    def save_scan(self, summary: ScanSummary) -> None: ...

    def scans(self, sources: Iterable[str]) -> list[ScanSummary]: ...


@runtime_checkable
class CurrentFinding(Protocol):
    """A source that can read one finding as it is now (Inspector: ListFindings by ARN)."""

    def latest(self, arn: str) -> list[Finding] | None: ...


class RunResult(BaseModel):
    """One run's outcome, small enough for a handler's answer and a log line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    findings: int
    created: int
    updated: int
    transitions: dict[str, int]
    retries: int
    not_checked: tuple[NotChecked, ...] = ()
    watermark: datetime | None = None
    exception_problems: tuple[str, ...] = ()

    @classmethod
    def of(cls, applied: ApplyResult, findings: int, **extra: Any) -> RunResult:
        counts: dict[str, int] = {}
        for transition in applied.transitions:
            counts[transition.after] = counts.get(transition.after, 0) + 1
        return cls(source=applied.source, findings=findings, created=applied.created, updated=applied.updated,
                   transitions=counts, retries=applied.retries, **extra)


class VulnRuns:
    def __init__(self, store: LedgerState, *, policy: SlaPolicy, exceptions: Callable[[date], ExceptionSet],
                 clock: Clock, inspector: FindingSource | None = None) -> None:
        self.store = store
        self.policy = policy
        self.exceptions = exceptions
        self.clock = clock
        self.inspector = inspector

    def ledger_for(self, now: datetime) -> tuple[Ledger, ExceptionSet]:
        exceptions = self.exceptions(now.date())
        return Ledger(self.store, policy=self.policy, exceptions=exceptions, clock=self.clock), exceptions

    def poll(self) -> RunResult:
        if self.inspector is None:
            raise ValueError("poll needs the Inspector source")
        now = self.clock()
        since = self.store.watermark(INSPECTOR)
        polled = self.inspector.poll(since)
        ledger, exceptions = self.ledger_for(now)
        scan = ScanResult(source=INSPECTOR, scanned_at=now, complete=False, findings=polled.findings,
                          not_checked=polled.not_checked)
        applied = ledger.apply(scan)
        self.store.save_scan(ScanSummary.of(scan))
        self.store.save_watermark(INSPECTOR, polled.watermark)
        return RunResult.of(applied, len(polled.findings), not_checked=polled.not_checked,
                            watermark=polled.watermark, exception_problems=exceptions.problems)

    def on_finding(self, findings: Sequence[Finding], arn: str | None = None) -> RunResult:
        """One Inspector finding's event, normalized -> the ledger. With ``arn`` and a source that can read one
        finding, Inspector's current state of it is applied instead of the event's: an ACTIVE event delivered
        after the CLOSED one (EventBridge does not promise order) must not reopen a fixed finding. Not a scan of
        its own: the poll's summary (with the coverage gaps) stays the source's latest scan."""
        if arn is not None and isinstance(self.inspector, CurrentFinding):
            current = self.inspector.latest(arn)
            findings = current if current is not None else findings
        return self.apply(ScanResult(source=INSPECTOR, scanned_at=self.clock(), complete=False,
                                     findings=tuple(findings)), summary=False)

    def apply(self, scan: ScanResult, *, summary: bool = True) -> RunResult:
        """A scan (a build report's) -> the ledger, and kept as its source's latest scan."""
        now = self.clock()
        ledger, exceptions = self.ledger_for(now)
        applied = ledger.apply(scan)
        if summary:
            self.store.save_scan(ScanSummary.of(scan))
        return RunResult.of(applied, len(scan.findings), not_checked=scan.not_checked,
                            exception_problems=exceptions.problems)


#: A report format: file name, content type, renderer.
Renderer = tuple[str, str, Callable[[VulnReport], str]]


class ReportRun(BaseModel):
    """The weekly report's outcome: where each format went, and the headline numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    generated_at: datetime
    locations: dict[str, str]
    open_by_severity: dict[str, int]
    totals: dict[str, int]
    sla_breaches: int
    expiring_exceptions: int
    not_checked: dict[str, str]
    reopened_now: int

    def summary(self) -> str:
        """The SNS message: the numbers, what was not checked, where the report is."""
        lines = [f"Vulnerability report {self.generated_at:%Y-%m-%d %H:%M} UTC",
                 "Open (open + reopened) by severity: " + (", ".join(f"{k} {v}" for k, v in
                                                                    self.open_by_severity.items()) or "none"),
                 f"SLA breaches: {self.sla_breaches}",
                 f"Exceptions expiring soon: {self.expiring_exceptions}",
                 "Ledger: " + ", ".join(f"{k} {v}" for k, v in self.totals.items())]
        if self.reopened_now:
            lines.append(f"Reopened by this run (expired exceptions): {self.reopened_now}")
        for source, status in self.not_checked.items():
            lines.append(f"{source}: {status}")
        lines += [f"{fmt}: {location}" for fmt, location in self.locations.items()]
        return "\n".join(lines)


def report(runs: VulnRuns, sink: ReportSink, renderers: Sequence[Renderer], notifier: Notifier | None, *,
           expiring_days: int) -> ReportRun:
    """Refresh the ledger for today (exceptions, SLA), build the report, write every format, notify."""
    now = runs.clock()
    ledger, exceptions = runs.ledger_for(now)
    refreshed = ledger.refresh()
    built = build_report(runs.store.query(), runs.store.scans(VULN_SOURCES), exceptions, runs.policy, now,
                         expiring_days=expiring_days)
    folder = f"{now:%Y-%m-%dT%H%M%SZ}"
    locations = {name: sink.write(f"{folder}/{name}", render(built), content_type)
                 for name, content_type, render in renderers}
    run = ReportRun(generated_at=now, locations=locations, open_by_severity=built.open_by_severity,
                    totals=built.totals, sla_breaches=len(built.sla_breaches),
                    expiring_exceptions=len(built.expiring_exceptions),
                    not_checked={s.source: s.status for s in built.sources if s.status != "checked"},
                    reopened_now=refreshed.count("reopened"))
    if notifier is not None:
        breaches = f", {run.sla_breaches} past SLA" if run.sla_breaches else ""
        total = sum(run.open_by_severity.values())
        notifier.publish(f"Vulnerabilities: {total} open{breaches}", run.summary())
    return run
