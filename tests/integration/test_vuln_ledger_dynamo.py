"""The DynamoDB ledger on moto (in-process): versioned conditional writes, a conflicting writer retried, the
state/resource index, forward-only watermarks and the per-source scan summaries."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from moto import mock_aws

from churnguard_ops.core import aws
from churnguard_ops.core.errors import Conflict
from churnguard_ops.vulns.adapters_ledger import DynamoLedger
from churnguard_ops.vulns.exceptions import ExceptionSet
from churnguard_ops.vulns.keys import new_finding
from churnguard_ops.vulns.ledger import Ledger
from churnguard_ops.vulns.model import LedgerEntry, NotChecked, ScanResult, ScanSummary, SlaPolicy
from tests.integration.conftest import create_vuln_ledger_table

pytestmark = pytest.mark.integration

REGION = "us-east-1"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


def create_ledger_table(name: str) -> None:
    create_vuln_ledger_table(boto3.client("dynamodb", REGION), name)


@pytest.fixture(scope="module")
def module_moto() -> Iterator[None]:
    """One in-process moto for the module (each test has a table of its own)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": REGION}.items():
            patch.setenv(key, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        aws.reset_clients()
        with mock_aws():
            yield
        aws.reset_clients()


@pytest.fixture
def ledger(module_moto: None) -> DynamoLedger:
    table = f"vulns-ledger-{uuid.uuid4().hex[:8]}"
    create_ledger_table(table)
    return DynamoLedger(table, REGION)


def finding(vuln: str = "CVE-2026-0001", resource: str = "layer:ops", package: str = "urllib3", **extra: Any) -> Any:
    fields: dict[str, Any] = {"sources": ("pip-audit",), "severity": "high", "title": f"{vuln} in {package}",
                              "observed_at": T0, "version": "1.26.18", **extra}
    return new_finding(ids=[vuln], resource=resource, package=package, **fields)


def entry(state: str = "open", **kwargs: Any) -> LedgerEntry:
    return LedgerEntry(finding=finding(**kwargs), state=state, first_seen=T0, last_seen=T0)  # type: ignore[arg-type]


def test_a_new_entry_is_stored_with_version_1_and_read_back_equal(ledger: DynamoLedger) -> None:
    stored = ledger.put(entry())
    assert stored.version == 1
    assert ledger.get(stored.key) == stored


def test_a_write_from_a_stale_version_is_a_conflict_and_changes_nothing(ledger: DynamoLedger) -> None:
    first = ledger.put(entry())
    ledger.put(first.model_copy(update={"state": "fixed"}))  # another writer: version 2
    with pytest.raises(Conflict, match="another writer"):
        ledger.put(first.model_copy(update={"state": "excepted"}))  # still based on version 1
    assert ledger.get(first.key).state == "fixed"  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        ledger.put(entry())  # version 0: the key must not exist yet


def test_update_rereads_and_reapplies_when_another_writer_wins_the_race(ledger: DynamoLedger) -> None:
    base = ledger.put(entry())
    calls: list[int] = []

    def add_a_day(current: LedgerEntry | None) -> LedgerEntry:
        assert current is not None
        calls.append(current.version)
        if len(calls) == 1:  # the poll and an Inspector event write at once: the event gets in first
            ledger.put(current.model_copy(update={"state": "reopened"}))
        return current.model_copy(update={"last_seen": current.last_seen + timedelta(days=1)})

    result = ledger.update(base.key, add_a_day)
    assert calls == [1, 2]  # applied again on the version the other writer left
    assert result is not None and result.version == 3
    assert result.state == "reopened" and result.last_seen == T0 + timedelta(days=1)  # both changes kept


def test_update_gives_up_with_conflict_after_its_attempts(ledger: DynamoLedger) -> None:
    base = ledger.put(entry())
    always_raced = DynamoLedger(ledger.table, REGION, max_attempts=2)

    def race(current: LedgerEntry | None) -> LedgerEntry:
        assert current is not None
        ledger.put(current)  # someone else writes every time between the read and the write
        return current

    with pytest.raises(Conflict):
        always_raced.update(base.key, race)


def test_the_ledger_use_case_retries_a_conflicting_write_through_the_dynamo_store(ledger: DynamoLedger) -> None:
    """Ledger.apply on the real store: the first put of an entry loses to a concurrent writer and is retried."""

    seeded = ledger.put(entry(package="urllib3", sources=("pip-audit",)))
    seeded = ledger.put(seeded.model_copy(update={"reporting": {"pip-audit": (seeded.key,)}}))

    class RacedOnce(DynamoLedger):
        raced = False

        def put(self, item: LedgerEntry) -> LedgerEntry:
            if not self.raced:
                self.raced = True
                current = self.get(item.key)
                assert current is not None
                DynamoLedger.put(self, current)  # the concurrent writer gets in between the read and the write
            return DynamoLedger.put(self, item)

    store = RacedOnce(ledger.table, REGION)
    scan = ScanResult(source="pip-audit", scanned_at=T0 + timedelta(days=2), complete=True, covered=("layer:ops",),
                      findings=())
    result = Ledger(store, policy=SlaPolicy(), exceptions=ExceptionSet(), clock=lambda: T0 + timedelta(days=2)).apply(
        scan)
    assert result.retries == 1 and result.count("fixed") == 1
    assert store.get(seeded.key).state == "fixed"  # type: ignore[union-attr]


def test_query_reads_by_state_and_resource_through_the_index_across_pages(ledger: DynamoLedger) -> None:
    for n in range(30):
        ledger.put(entry(vuln=f"CVE-2026-{n:04d}", resource="layer:ops" if n % 2 else "function:churnguard-ops-a",
                         state="open" if n % 3 else "fixed", description="x" * 20_000))  # ~600 KB: pages of 1 MB
    everything = ledger.query()
    assert len(everything) == 30
    open_on_layer = ledger.query(states=["open"], resource="layer:ops")
    assert {e.finding.resource for e in open_on_layer} == {"layer:ops"}
    assert {e.state for e in open_on_layer} == {"open"}
    assert len(open_on_layer) == len([n for n in range(30) if n % 2 and n % 3])
    assert ledger.query(states=["excepted"]) == []


def test_the_watermark_only_moves_forward(ledger: DynamoLedger) -> None:
    assert ledger.watermark("inspector") is None
    assert ledger.save_watermark("inspector", T0 + timedelta(hours=2))
    assert not ledger.save_watermark("inspector", T0 + timedelta(hours=1))  # a slow, older poll finishing late
    assert ledger.watermark("inspector") == T0 + timedelta(hours=2)
    assert ledger.query() == []  # watermark items are not findings


def test_the_latest_scan_summary_per_source_is_kept(ledger: DynamoLedger) -> None:
    gap = NotChecked(resource="function:churnguard-ops-idle", reason="not scanned (package scan, STALE_INVENTORY)")
    newer = ScanSummary(source="inspector", scanned_at=T0 + timedelta(hours=1), complete=False, findings=3,
                        not_checked=(gap,))
    ledger.save_scan(newer)
    ledger.save_scan(ScanSummary(source="inspector", scanned_at=T0, complete=False, findings=9))  # older: ignored
    assert ledger.scans(["inspector", "bandit"]) == [newer]
