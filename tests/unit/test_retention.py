from datetime import datetime, timedelta, timezone

from churnguard_ops.backup.retention import expired_snapshots
from tests.unit.fakes import FakeSnapshotStore

NOW = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)


def _own(store, name, days_ago, expired):
    slot = NOW - timedelta(days=days_ago)
    retention = NOW - timedelta(days=1) if expired else NOW + timedelta(days=1)
    return store.add(name, "db1", Slot=slot.isoformat(), RetentionDate=retention.isoformat())


def test_only_our_expired_snapshots_beyond_the_newest_k_are_pruned():
    store = FakeSnapshotStore("us-east-1")
    for days in range(6):
        _own(store, f"own-{days}", days_ago=days, expired=days >= 2)
    doomed = {s.snapshot_id for s in expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=3)}
    assert doomed == {"own-3", "own-4", "own-5"}


def test_newest_k_are_kept_even_when_expired():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, f"own-{days}", days_ago=days, expired=True)
    assert expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=3) == []


def test_foreign_automated_in_flight_and_untagged_snapshots_are_never_pruned():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, f"keep-{days}", days_ago=days, expired=False)
    old = (NOW - timedelta(days=90)).isoformat()
    store.add("foreign", "db1", ours=False, RetentionDate=old)
    store.add("automated", "db1", snapshot_type="automated", RetentionDate=old, Slot=old)
    store.add("copying", "db1", status="creating", RetentionDate=old, Slot=old)
    store.add("no-retention-tag", "db1", Slot=old)
    assert expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=3) == []


def test_newest_k_is_counted_per_source_instance():
    store = FakeSnapshotStore("us-east-1")
    expired = (NOW - timedelta(days=1)).isoformat()
    for source in ("db1", "db2"):
        for days in range(4):
            store.add(f"{source}-{days}", source, Slot=(NOW - timedelta(days=days)).isoformat(), RetentionDate=expired)
    doomed = sorted(s.snapshot_id for s in expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=3))
    assert doomed == ["db1-3", "db2-3"]


def test_failed_or_copying_snapshots_do_not_count_toward_the_newest_k():
    store = FakeSnapshotStore("us-east-1")
    for hours in (1, 2, 3):
        store.add(f"failed-{hours}", "db1", status="failed", Slot=(NOW - timedelta(hours=hours)).isoformat(),
                  RetentionDate=(NOW + timedelta(days=1)).isoformat())
    for days in (2, 3, 4, 5):
        _own(store, f"good-{days}", days_ago=days, expired=True)
    doomed = {s.snapshot_id for s in expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=3)}
    assert doomed == {"good-5"}  # the three newest *restorable* backups are kept


def test_drill_snapshots_and_unreadable_tags_are_never_pruned_and_do_not_crash():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, f"keep-{days}", days_ago=days, expired=False)
    old = (NOW - timedelta(days=90)).isoformat()
    store.add("churnguard-ops-dr-test-x", "db1", Purpose="RestoreDrill", Slot=old, RetentionDate=old)
    store.add("garbage-retention", "db1", Slot=old, RetentionDate="30d")
    store.add("naive-retention", "db1", Slot="2026-01-01T00:00:00", RetentionDate="2026-02-01T00:00:00")
    assert [s.snapshot_id for s in expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=3)] == \
        ["naive-retention"]  # naive times are read as UTC; "30d" cannot be proven expired
