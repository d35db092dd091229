"""DR copies that failed are not recovery points, and retention an operator extends reaches the DR copy."""
from __future__ import annotations

from datetime import timedelta

from churnguard_ops.core import contracts
from tests.unit.test_backup_service import NOW, SLOT_ID, World


def _earlier_backup(world, hours_ago=1, days=30):
    when = NOW - timedelta(hours=hours_ago)
    return world.primary.add_backup("db1", when, created_at=when,
                                    RetentionDate=(NOW + timedelta(days=days)).isoformat())


def test_a_failed_dr_copy_is_not_present_it_is_removed_and_the_recovery_point_copied_again():
    world = World()
    world.dr.copy_status = "failed"
    world.tick()  # this hour's copies fail in RDS
    newest = SLOT_ID.format("db1")
    assert world.dr.snapshots_by_id[newest].status == "failed"

    world.dr.copy_status = "available"
    report = world.tick()  # a retried tick of the same slot

    assert newest in world.dr.deleted_snapshots
    assert world.dr.snapshots_by_id[newest].status == "available"
    copies = {o.target: o.status for o in report.outcomes if o.action == "copy"}
    assert copies["db1"] == "succeeded"


def test_failed_copies_are_pruned_even_before_their_retention_ends_and_never_count_as_newest():
    world = World()
    old = _earlier_backup(world, hours_ago=3)
    world.dr.put_snapshot(world.dr.copy_from(old, None, dict(old.tags)))
    world.dr.snapshots_by_id[old.snapshot_id] = world.dr.snapshots_by_id[old.snapshot_id].__class__(
        **{**world.dr.snapshots_by_id[old.snapshot_id].__dict__, "status": "failed"})
    report = world.tick()
    prune = next(o for o in report.outcomes if o.action == "prune" and o.target == "region:us-west-2")
    assert prune.data["failed_removed"] == [old.snapshot_id]
    # Nothing was restorable in DR when this tick looked: no freshness datapoint from the failed copy
    # (missing data is breaching for the DR-freshness alarm).
    assert not [p for p in world.metrics.points if p[0] == "DrRecoveryPointAgeSeconds" and p[2].get(
        "DBInstanceIdentifier") == "db1"]


def test_a_copy_still_being_deleted_defers_the_re_copy_instead_of_calling_it_present():
    world = World()
    world.tick()
    newest = SLOT_ID.format("db1")
    deleting = world.dr.snapshots_by_id[newest]
    world.dr.snapshots_by_id[newest] = deleting.__class__(**{**deleting.__dict__, "status": "deleting"})
    report = world.tick()
    copy = next(o for o in report.outcomes if o.action == "copy" and o.target == "db1")
    assert copy.status == "deferred" and "deleting" in copy.detail


def test_retention_extended_on_a_primary_backup_reaches_its_dr_copy_before_dr_pruning():
    world = World(keep_latest=1)
    backup = _earlier_backup(world, hours_ago=30, days=1)
    world.dr.put_snapshot(world.dr.copy_from(backup, None, dict(backup.tags)))
    # The DR copy expired; the operator extended the primary (the documented legal-hold path).
    extended = (NOW + timedelta(days=365)).isoformat()
    world.dr.tag_snapshot(world.dr.snapshot(backup.snapshot_id),
                          {contracts.RETENTION_DATE_TAG: (NOW - timedelta(hours=1)).isoformat()})
    world.primary.tag_snapshot(backup, {contracts.RETENTION_DATE_TAG: extended})

    report = world.tick()

    assert backup.snapshot_id not in world.dr.deleted_snapshots
    assert world.dr.snapshot(backup.snapshot_id).tags[contracts.RETENTION_DATE_TAG] == extended
    assert [o.status for o in report.outcomes if o.action == "retention"] == ["succeeded"]


def test_a_dr_copy_kept_longer_than_its_primary_is_never_shortened():
    world = World()
    backup = _earlier_backup(world, days=30)
    longer = (NOW + timedelta(days=400)).isoformat()
    world.dr.put_snapshot(world.dr.copy_from(backup, None, {**backup.tags, contracts.RETENTION_DATE_TAG: longer}))
    report = world.tick()
    assert world.dr.snapshot(backup.snapshot_id).tags[contracts.RETENTION_DATE_TAG] == longer
    assert not [o for o in report.outcomes if o.action == "retention"]
