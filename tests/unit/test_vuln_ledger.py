"""The ledger use case on a fake store: states, history, sources, exceptions, Inspector statuses and polling."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from churnguard_ops.core.errors import Conflict
from churnguard_ops.vulns.exceptions import ExceptionSet, parse_exceptions
from churnguard_ops.vulns.ledger import Ledger
from churnguard_ops.vulns.model import Finding, LedgerEntry, ScanResult, SlaPolicy
from churnguard_ops.vulns.normalize import inspector
from tests.unit.vulns_fakes import (
    LAYERS,
    T0,
    Clock,
    FakeFindingSource,
    FakeLedgerStore,
    inspector_raw,
    package_finding,
    rule_finding,
)

ARN_A = "arn:aws:inspector2:eu-west-1:123456789012:finding/aaaa"
ARN_B = "arn:aws:inspector2:eu-west-1:123456789012:finding/bbbb"


def scan(source: str, *findings: Finding, complete: bool = True, covered: tuple[str, ...] = ("layer:ops",),
         clock: Clock | None = None) -> ScanResult:
    return ScanResult(source=source, scanned_at=clock() if clock else T0, complete=complete, covered=covered,  # type: ignore[arg-type]
                      findings=findings)


def ledger(store: FakeLedgerStore, clock: Clock, exceptions: ExceptionSet | None = None) -> Ledger:
    return Ledger(store, policy=SlaPolicy(), exceptions=exceptions or ExceptionSet(), clock=clock)


def exceptions_file(expires: str, today: date, id: str = "CVE-2023-43804") -> ExceptionSet:
    return parse_exceptions(f'[[exception]]\nid = "{id}"\npackage = "urllib3"\nresource = "layer:ops"\n'
                            f'reason = "not reachable"\napprover = "alice@churnguard.example"\nexpires = {expires}\n',
                            today)


def test_a_new_finding_is_open_and_seeing_it_again_moves_last_seen_only() -> None:
    store, clock = FakeLedgerStore(), Clock()
    result = ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    assert (result.created, result.count("open")) == (1, 1)
    first = store.only()
    assert (first.state, first.first_seen, first.reporting) == ("open", T0, {"pip-audit": (first.key,)})
    later = clock.advance(days=1)
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804", at=later),
                                    clock=clock))
    again = store.only()
    assert (again.state, again.first_seen, again.last_seen, len(again.history)) == ("open", T0, later, 1)


def test_missing_from_a_complete_scan_of_its_only_source_is_fixed() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    clock.advance(days=2)
    result = ledger(store, clock).apply(scan("pip-audit", clock=clock))
    entry = store.only()
    assert (entry.state, entry.fixed_at, entry.reporting) == ("fixed", clock(), {})
    assert result.transitions[0].why == "no longer reported by pip-audit's complete scan"


def test_a_finding_still_reported_by_another_source_stays_open() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "PYSEC-2023-192",
                                                                 aliases=("CVE-2023-43804",))))
    ledger(store, clock).apply(scan("inspector", package_finding("inspector", "CVE-2023-43804", ref=ARN_A),
                                    complete=False))
    ledger(store, clock).apply(scan("pip-audit"))
    entry = store.only()
    assert entry.state == "open" and entry.reporting == {"inspector": (ARN_A,)}
    assert entry.finding.sources == ("inspector", "pip-audit")


def test_a_complete_scan_fixes_only_resources_it_covered() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("bandit", rule_finding("bandit", "B608", "code:functions/reports/app.py"),
                                    rule_finding("bandit", "B108", "code:layers/ops/python/x.py"),
                                    covered=("code:functions/*", "code:layers/ops/python/*")))
    ledger(store, clock).apply(scan("bandit", covered=("code:functions/*",)))
    states = {e.finding.rule: e.state for e in store.items.values()}
    assert states == {"B608": "fixed", "B108": "open"}


def test_an_incomplete_scan_fixes_nothing_by_absence() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    ledger(store, clock).apply(scan("pip-audit", complete=False))
    assert store.only().state == "open"


def test_a_fixed_finding_seen_again_is_reopened_with_its_first_seen() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    clock.advance(days=1)
    ledger(store, clock).apply(scan("pip-audit", clock=clock))
    clock.advance(days=1)
    result = ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804",
                                                                          at=clock()), clock=clock))
    entry = store.only()
    assert (entry.state, entry.first_seen, entry.fixed_at) == ("reopened", T0, None)
    assert [h.state for h in entry.history] == ["open", "fixed", "reopened"]
    assert result.transitions[0].why == "reported again by pip-audit after it was fixed on 2026-11-02"


def test_an_exception_excepts_the_finding_and_its_expiry_reopens_it_with_the_reason() -> None:
    store, clock = FakeLedgerStore(), Clock()
    valid = exceptions_file("2026-11-10", clock().date())
    ledger(store, clock, valid).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    entry = store.only()
    assert entry.state == "excepted" and entry.exception is not None
    assert (entry.exception.id, entry.exception.expires, entry.exception.origin) == (
        "CVE-2023-43804", date(2026, 11, 10), "file")
    assert not entry.sla_breached
    clock.advance(days=10)  # 2026-11-11: the day after its last day
    result = ledger(store, clock, exceptions_file("2026-11-10", clock().date())).refresh()
    entry = store.only()
    assert (entry.state, entry.exception) == ("reopened", None)
    assert entry.history[-1].why == "exception CVE-2023-43804 expired on 2026-11-10"
    assert [t.after for t in result.transitions] == ["reopened"]


def test_an_exception_removed_from_the_file_reopens_the_finding() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock, exceptions_file("2026-12-01", clock().date())).apply(
        scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    ledger(store, clock, ExceptionSet()).refresh()
    assert store.only().history[-1].why == "exception CVE-2023-43804 is no longer in vulnerability-exceptions.toml"


def test_inspector_closed_is_fixed_and_suppressed_is_excepted_by_its_rule() -> None:
    store, clock = FakeLedgerStore(), Clock()
    raw_closed = inspector_raw(ARN_A, "churnguard-ops-cost-report", status="CLOSED", layer=False)
    raw_suppressed = inspector_raw(ARN_B, "churnguard-ops-backup-run", status="SUPPRESSED", cve="CVE-2024-3651")
    found = inspector.normalize([raw_closed, raw_suppressed], layer_resources=LAYERS)
    ledger(store, clock).apply(scan("inspector", *found, complete=False))
    by_id = {e.finding.vuln_id: e for e in store.items.values()}
    closed, suppressed = by_id["CVE-2023-43804"], by_id["CVE-2024-3651"]
    assert [h.state for h in closed.history] == ["open", "fixed"] and closed.history[-1].why == "closed by inspector"
    assert suppressed.state == "excepted" and suppressed.exception is not None
    assert (suppressed.exception.origin, suppressed.exception.expires) == ("inspector", None)


def test_inspector_suppression_lifted_reopens() -> None:
    store, clock = FakeLedgerStore(), Clock()
    source = FakeFindingSource([inspector_raw(ARN_A, "churnguard-ops-backup-run", status="SUPPRESSED")])
    ledger(store, clock).apply(scan("inspector", *source.poll(None).findings, complete=False))
    source.update(ARN_A, T0 + timedelta(hours=2), status="ACTIVE")
    ledger(store, clock).apply(scan("inspector", *source.poll(T0 + timedelta(hours=1)).findings, complete=False))
    entry = store.only()
    assert (entry.state, entry.exception) == ("reopened", None)
    assert entry.history[-1].why == "inspector no longer suppresses it"


def test_a_layer_cve_on_two_functions_is_one_entry_open_until_both_findings_close() -> None:
    store, clock = FakeLedgerStore(), Clock()
    source = FakeFindingSource([inspector_raw(ARN_A, "churnguard-ops-backup-run"),
                                inspector_raw(ARN_B, "churnguard-ops-drill-plan")])
    ledger(store, clock).apply(scan("inspector", *source.poll(None).findings, complete=False))
    entry = store.only()
    assert entry.finding.resource == "layer:ops" and entry.reporting == {"inspector": (ARN_A, ARN_B)}
    source.update(ARN_A, T0 + timedelta(hours=2), status="CLOSED")
    ledger(store, clock).apply(scan("inspector", *source.poll(T0 + timedelta(hours=1)).findings, complete=False))
    assert store.only().state == "open" and store.only().reporting == {"inspector": (ARN_B,)}
    source.update(ARN_B, T0 + timedelta(hours=3), status="CLOSED")
    ledger(store, clock).apply(scan("inspector", *source.poll(T0 + timedelta(hours=2)).findings, complete=False))
    assert store.only().state == "fixed"


def test_a_finding_closed_between_polls_is_seen_as_closed() -> None:
    store, clock = FakeLedgerStore(), Clock()
    source = FakeFindingSource([inspector_raw(ARN_A, "churnguard-ops-backup-run", updated=T0)])
    first = source.poll(None)
    ledger(store, clock).apply(scan("inspector", *first.findings, complete=False))
    assert store.only().state == "open"
    # closed after the first poll; its lastObservedAt does not move, only updatedAt does
    source.update(ARN_A, T0 + timedelta(minutes=30), status="CLOSED")
    second = source.poll(first.watermark)
    assert [f.status for f in second.findings] == ["closed"] and second.watermark == T0 + timedelta(minutes=30)
    ledger(store, clock).apply(scan("inspector", *second.findings, complete=False))
    assert store.only().state == "fixed"


def test_a_finding_opened_and_closed_between_polls_is_recorded_as_fixed() -> None:
    store, clock = FakeLedgerStore(), Clock()
    raw = inspector_raw(ARN_A, "churnguard-ops-backup-run", status="CLOSED", updated=T0)
    ledger(store, clock).apply(scan("inspector", *inspector.normalize([raw], layer_resources=LAYERS),
                                    complete=False))
    entry = store.only()
    assert [h.state for h in entry.history] == ["open", "fixed"] and entry.first_seen == T0 - timedelta(hours=1)


def test_an_alias_only_match_joins_the_stored_entry_under_its_key() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("inspector", package_finding("inspector", "CVE-2023-43804",
                                                                 aliases=("GHSA-v845-jxx5-vc9f",), ref=ARN_A),
                                    complete=False))
    key = store.only().key
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "GHSA-v845-jxx5-vc9f")))
    entry = store.only()
    assert entry.key == key and set(entry.reporting) == {"inspector", "pip-audit"}


def test_a_write_conflict_is_retried_on_a_fresh_read() -> None:
    store, clock = FakeLedgerStore(), Clock()
    store.conflicts = 1
    result = ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))
    assert result.retries == 1 and store.only().version == 1


def test_persistent_conflicts_surface_after_the_attempts() -> None:
    store, clock = FakeLedgerStore(), Clock()
    store.conflicts = 3
    with pytest.raises(Conflict):
        ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804")))


def test_refresh_flags_sla_breaches_as_time_passes() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock).apply(scan("pip-audit", package_finding("pip-audit", "CVE-2023-43804",
                                                                 severity="critical")))
    clock.advance(days=15)
    ledger(store, clock).refresh()
    assert not store.only().sla_breached
    clock.advance(seconds=1)
    ledger(store, clock).refresh()
    assert store.only().sla_breached and store.only().sla_due == T0 + timedelta(days=15)


def test_an_unchanged_scan_writes_nothing() -> None:
    store, clock = FakeLedgerStore(), Clock()
    finding = package_finding("pip-audit", "CVE-2023-43804")
    ledger(store, clock).apply(scan("pip-audit", finding))
    result = ledger(store, clock).apply(scan("pip-audit", finding))
    assert (store.puts, result.updated) == (1, 0)


def test_a_ledger_entry_survives_its_json_form_as_stores_keep_it() -> None:
    store, clock = FakeLedgerStore(), Clock()
    ledger(store, clock, exceptions_file("2026-12-01", clock().date())).apply(
        scan("inspector", package_finding("inspector", "CVE-2023-43804", ref=ARN_A), complete=False))
    entry = store.only()
    assert entry.exception is not None and entry.reporting == {"inspector": (ARN_A,)}
    assert LedgerEntry.model_validate_json(entry.model_dump_json()) == entry


def test_a_scan_holding_another_sources_findings_is_refused() -> None:
    with pytest.raises(ValidationError, match="a bandit scan holds findings of other sources"):
        scan("bandit", package_finding("pip-audit", "CVE-2023-43804"))


def test_a_resource_outside_the_naming_is_refused() -> None:
    with pytest.raises(ValidationError, match="resource must be <kind>:<name>"):
        package_finding("pip-audit", "CVE-2023-43804", resource="arn:aws:lambda:eu-west-1:1:function:x")
