from datetime import datetime, timedelta, timezone

from churnguard_ops.backup.retention import expired_snapshots
from tests.unit.fakes import FakeSnapshotStore

NOW = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)


def _own(store, days_ago, expired, source="db1", **kwargs):
    slot = NOW - timedelta(days=days_ago)
    retention = NOW - timedelta(days=1) if expired else NOW + timedelta(days=1)
    return store.add_backup(source, slot, RetentionDate=retention.isoformat(), **kwargs).snapshot_id


def _doomed(store, keep_latest=3):
    return {s.snapshot_id for s in expired_snapshots(store.snapshots(manual_only=False), NOW, keep_latest=keep_latest)}


def test_only_our_expired_snapshots_beyond_the_newest_k_are_pruned():
    store = FakeSnapshotStore("us-east-1")
    ids = [_own(store, days_ago=days, expired=days >= 2) for days in range(6)]
    assert _doomed(store) == set(ids[3:])


def test_newest_k_are_kept_even_when_expired():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, days_ago=days, expired=True)
    assert _doomed(store) == set()


def test_foreign_automated_in_flight_and_untagged_snapshots_are_never_pruned():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, days_ago=days, expired=False)
    old = NOW - timedelta(days=90)
    store.add("foreign", "db1", ours=False, RetentionDate=old.isoformat())
    store.add_backup("db1", old, snapshot_type="automated", RetentionDate=old.isoformat())
    store.add_backup("db1", old - timedelta(hours=1), status="creating", RetentionDate=old.isoformat())
    store.add_backup("db1", old - timedelta(hours=2))  # no RetentionDate tag
    assert _doomed(store) == set()


def test_a_copy_with_our_tags_under_another_name_is_foreign_never_pruned_nor_counted():
    """An operator's legal-hold copy made with copy-tags inherits CreatedBy, Purpose and RetentionDate."""
    store = FakeSnapshotStore("us-east-1")
    ids = [_own(store, days_ago=days, expired=True) for days in (2, 3, 4, 5)]
    newest = store.snapshot(ids[0])
    for hold in ("legal-hold-2026", f"{ids[0]}-hold", "churnguard-ops-db1-database-20991231t2300"):
        store.add(hold, "db1", created_at=newest.created_at, **newest.tags)
    doomed = _doomed(store)
    assert doomed == {ids[3]}  # the holds neither vanish nor push a real backup out of the newest 3


def test_tags_naming_another_instance_than_the_snapshot_source_are_not_ours():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, days_ago=days, expired=False, source="db2")
    template = store.snapshot(_own(store, days_ago=9, expired=True, source="db2"))
    del store.snapshots_by_id[template.snapshot_id]
    # Our name and tags for db2, but RDS says it was taken from db1: the tags were put on someone else's snapshot.
    store.add(template.snapshot_id, "db1", **template.tags)
    assert _doomed(store) == set()


def test_newest_k_is_counted_per_source_instance():
    store = FakeSnapshotStore("us-east-1")
    oldest = {source: [_own(store, days_ago=days, expired=True, source=source) for days in range(4)][-1]
              for source in ("db1", "db2")}
    assert _doomed(store) == set(oldest.values())


def test_failed_or_copying_snapshots_do_not_count_toward_the_newest_k():
    store = FakeSnapshotStore("us-east-1")
    for hours in (1, 2, 3):
        store.add_backup("db1", NOW - timedelta(hours=hours), status="failed",
                         RetentionDate=(NOW + timedelta(days=1)).isoformat())
    good = [_own(store, days_ago=days, expired=True) for days in (2, 3, 4, 5)]
    assert _doomed(store) == {good[-1]}  # the three newest *restorable* backups are kept


def test_drill_snapshots_and_unreadable_tags_are_never_pruned_and_do_not_crash():
    store = FakeSnapshotStore("us-east-1")
    for days in range(3):
        _own(store, days_ago=days, expired=False)
    old = NOW - timedelta(days=90)
    store.add("churnguard-ops-dr-test-x", "db1", Purpose="RestoreDrill", Slot=old.isoformat(),
              RetentionDate=old.isoformat())
    store.add_backup("db1", old, RetentionDate="30d")
    naive = store.add_backup("db1", old - timedelta(days=1), RetentionDate="2026-02-01T00:00:00")
    assert _doomed(store) == {naive.snapshot_id}  # naive times are read as UTC; "30d" cannot be proven expired
