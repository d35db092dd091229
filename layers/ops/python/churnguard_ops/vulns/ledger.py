"""The ledger use case: fold scan results into one entry per finding, with states, history, exceptions and SLA.

- new -> ``open`` (or ``excepted`` when an exception covers it); seen again -> ``last_seen`` moves;
- a source's *complete* scan that no longer reports a finding it reported on a resource the scan covered drops
  that source; with no source left reporting, the finding is ``fixed`` (one still reported elsewhere stays open);
- Inspector's own statuses: ACTIVE -> reported, CLOSED -> no longer reported by that finding ARN (fixed when
  nothing else reports it: a finding closed between two polls is seen as closed), SUPPRESSED -> ``excepted``
  by Inspector's rule (recorded as such; Inspector's rules never expire);
- a fixed finding reported again -> ``reopened`` (its ``first_seen``, and so its SLA clock, is kept);
- an exception of the file covering it -> ``excepted``; that exception expired (or withdrawn) -> ``reopened``
  with the reason "exception <id> expired on <date>".

Every write is conditional on the entry's stored version; a conflict re-reads and re-applies.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict

from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import Conflict
from churnguard_ops.vulns.exceptions import FILE_NAME, ExceptionSet
from churnguard_ops.vulns.keys import merge_into, same_vulnerability
from churnguard_ops.vulns.model import (
    ExceptionRef,
    Finding,
    HistoryEvent,
    LedgerEntry,
    ScanResult,
    SlaPolicy,
    State,
)
from churnguard_ops.vulns.ports import LedgerStore
from churnguard_ops.vulns.sla import with_sla

#: States a complete scan can fix or an exception can change.
LIVE_STATES: tuple[State, ...] = ("open", "reopened", "excepted")
INSPECTOR_SUPPRESSION = ExceptionRef(id="inspector-suppression", approver="Inspector suppression rule",
                                     reason="suppressed by an Inspector suppression rule (it never expires)",
                                     origin="inspector")


class Transition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    vuln_id: str
    resource: str
    before: State | None
    after: State
    why: str


class ApplyResult(BaseModel):
    """What one scan (or a refresh) changed: entries created, touched, and each state change with its reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    at: datetime
    created: int = 0
    updated: int = 0
    transitions: tuple[Transition, ...] = ()
    retries: int = 0

    def count(self, state: State) -> int:
        return sum(1 for t in self.transitions if t.after == state)


# --- pure transitions ----------------------------------------------------------------------------------------


def _move(entry: LedgerEntry, state: State, at: datetime, why: str, **update: object) -> LedgerEntry:
    return entry.model_copy(update={"state": state, "history": (*entry.history, HistoryEvent(at=at, state=state,
                                                                                             why=why)), **update})


def _new_entry(finding: Finding, source: str) -> LedgerEntry:
    first = min(finding.first_observed_at or finding.observed_at, finding.observed_at)
    return LedgerEntry(finding=finding, state="open", first_seen=first, last_seen=finding.observed_at,
                       history=(HistoryEvent(at=first, state="open", why=f"first reported by {source}"),))


def _without(reporting: dict[str, tuple[str, ...]], source: str, ref: str | None) -> dict[str, tuple[str, ...]]:
    """``reporting`` less one of ``source``'s ids (``ref``) or all of them (None)."""
    out = dict(reporting)
    left = tuple(r for r in out.get(source, ()) if ref is not None and r != ref)
    if left:
        out[source] = left
    else:
        out.pop(source, None)
    return out


def observe(entry: LedgerEntry | None, finding: Finding, source: str, now: datetime) -> LedgerEntry:
    """One observation of ``finding`` by ``source`` (with the source's status) folded into ``entry``."""
    ref = finding.source_ids.get(source, finding.key)
    if entry is None:
        entry = _new_entry(finding, source)
    else:
        entry = entry.model_copy(update={"finding": merge_into(entry.finding, finding)})
    if finding.status == "closed":
        reporting = _without(entry.reporting, source, ref)
        entry = entry.model_copy(update={"reporting": reporting})
        if not reporting and entry.state != "fixed":
            entry = _move(entry, "fixed", now, f"closed by {source}", fixed_at=now, exception=None)
        return entry
    reporting = {**entry.reporting, source: tuple(sorted({*entry.reporting.get(source, ()), ref}))}
    entry = entry.model_copy(update={"reporting": reporting, "last_seen": max(entry.last_seen, finding.observed_at)})
    if entry.state == "fixed":
        fixed_on = f" on {entry.fixed_at:%Y-%m-%d}" if entry.fixed_at else ""
        entry = _move(entry, "reopened", now, f"reported again by {source} after it was fixed{fixed_on}",
                      fixed_at=None)
    if finding.status == "suppressed":
        if entry.state != "excepted":
            entry = _move(entry, "excepted", now, f"{source}: {INSPECTOR_SUPPRESSION.reason}",
                          exception=INSPECTOR_SUPPRESSION)
    elif entry.exception is not None and entry.exception.origin == source:
        entry = _move(entry, "reopened", now, f"{source} no longer suppresses it", exception=None)
    return entry


def withdraw(entry: LedgerEntry, source: str, now: datetime) -> LedgerEntry:
    """``source``'s complete scan no longer reports the finding."""
    reporting = _without(entry.reporting, source, None)
    entry = entry.model_copy(update={"reporting": reporting})
    if not reporting and entry.state != "fixed":
        entry = _move(entry, "fixed", now, f"no longer reported by {source}'s complete scan", fixed_at=now,
                      exception=None)
    return entry


def reconcile(entry: LedgerEntry, exceptions: ExceptionSet, policy: SlaPolicy, now: datetime) -> LedgerEntry:
    """Exceptions of the file applied (or lifted), then the SLA worked out for ``now``."""
    if entry.state != "fixed":
        match = exceptions.match(entry.finding)
        current = entry.exception
        if match is not None:
            ref = ExceptionRef(id=match.id, approver=match.approver, expires=match.expires, reason=match.reason)
            if entry.state != "excepted" or current != ref:
                entry = _move(entry, "excepted", now, f"exception {match.id} approved by {match.approver} until "
                              f"{match.expires}: {match.reason}", exception=ref)
        elif entry.state == "excepted" and current is not None and current.origin == "file":
            expired = exceptions.expired_match(entry.finding)
            if expired is not None:
                why = f"exception {expired.id} expired on {expired.expires}"
            elif current.expires is not None and now.date() > current.expires:
                why = f"exception {current.id} expired on {current.expires}"
            else:
                why = f"exception {current.id} is no longer in {FILE_NAME}"
            entry = _move(entry, "reopened", now, why, exception=None)
    return with_sla(entry, policy, now)


def covered(resource: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(resource, p) for p in patterns)


# --- the use case --------------------------------------------------------------------------------------------


class Ledger:
    """Applies scan results and refreshes exceptions and SLA over a :class:`LedgerStore`."""

    def __init__(self, store: LedgerStore, *, policy: SlaPolicy, exceptions: ExceptionSet, clock: Clock,
                 max_attempts: int = 3) -> None:
        self.store = store
        self.policy = policy
        self.exceptions = exceptions
        self.clock = clock
        self.max_attempts = max_attempts

    def _resolve(self, finding: Finding) -> str:
        """The stored key this finding belongs to: its own, or an entry sharing an alias on the same subject
        (one source knew only the GHSA, the other the CVE)."""
        if self.store.get(finding.key) is not None:
            return finding.key
        for entry in self.store.query(resource=finding.resource):
            if same_vulnerability(entry.finding, finding):
                return entry.key
        return finding.key

    def _write(self, key: str, change: Callable[[LedgerEntry | None], LedgerEntry | None],
               result: _Tally) -> None:
        for attempt in range(self.max_attempts):
            before = self.store.get(key)
            after = change(before)
            if after is None or after == before:
                return
            try:
                self.store.put(after)
            except Conflict:
                if attempt + 1 == self.max_attempts:
                    raise
                result.retries += 1
                continue
            result.record(before, after)
            return

    def apply(self, scan: ScanResult) -> ApplyResult:
        now = self.clock()
        tally = _Tally()
        groups: dict[str, list[Finding]] = {}
        for finding in scan.findings:
            groups.setdefault(self._resolve(finding), []).append(finding)

        def fold(observations: list[Finding]) -> Callable[[LedgerEntry | None], LedgerEntry | None]:
            def change(entry: LedgerEntry | None) -> LedgerEntry | None:
                for finding in observations:
                    entry = observe(entry, finding, scan.source, now)
                return reconcile(entry, self.exceptions, self.policy, now) if entry else None
            return change

        for key, observations in groups.items():
            self._write(key, fold(observations), tally)
        if scan.complete:
            for entry in self.store.query(states=LIVE_STATES):
                if (entry.key not in groups and scan.source in entry.reporting
                        and covered(entry.finding.resource, scan.covered)):
                    self._write(entry.key, lambda e: reconcile(withdraw(e, scan.source, now), self.exceptions,
                                                               self.policy, now) if e else None, tally)
        return tally.result(scan.source, now)

    def refresh(self) -> ApplyResult:
        """Exceptions (expired ones reopen what they covered) and SLA breaches, over every live entry."""
        now = self.clock()
        tally = _Tally()
        for entry in self.store.query(states=LIVE_STATES):
            self._write(entry.key, lambda e: reconcile(e, self.exceptions, self.policy, now) if e else None, tally)
        return tally.result("refresh", now)


class _Tally:
    def __init__(self) -> None:
        self.created = 0
        self.updated = 0
        self.retries = 0
        self.transitions: list[Transition] = []

    def record(self, before: LedgerEntry | None, after: LedgerEntry) -> None:
        if before is None:
            self.created += 1
        else:
            self.updated += 1
        known = len(before.history) if before else 0
        state: State | None = before.state if before else None
        for event in after.history[known:]:
            self.transitions.append(Transition(key=after.key, vuln_id=after.finding.vuln_id,
                                               resource=after.finding.resource, before=state, after=event.state,
                                               why=event.why))
            state = event.state

    def result(self, source: str, at: datetime) -> ApplyResult:
        return ApplyResult(source=source, at=at, created=self.created, updated=self.updated,
                           transitions=tuple(self.transitions), retries=self.retries)
