"""Which snapshots may be deleted. Pure: the caller lists, this decides, the adapter deletes."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from churnguard_ops.core.rds_model import Snapshot

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def expired_snapshots(snapshots: Iterable[Snapshot], now: datetime, keep_latest: int) -> list[Snapshot]:
    """Our own, available, past-retention backups, except the newest ``keep_latest`` available per source.

    Foreign, automated and drill snapshots are never candidates; neither is a snapshot without a
    readable RetentionDate tag (we cannot prove it expired) nor one still being created or copied.
    """
    by_source: dict[str, list[Snapshot]] = defaultdict(list)
    for snapshot in snapshots:
        # Only available backups count toward the newest K: failed or half-copied ones cannot restore.
        if snapshot.is_backup and snapshot.available:
            by_source[snapshot.source_instance].append(snapshot)

    doomed: list[Snapshot] = []
    for family in by_source.values():
        family.sort(key=lambda s: s.slot or _EPOCH, reverse=True)
        for snapshot in family[keep_latest:]:
            retention = snapshot.retention_date
            if retention is not None and retention <= now:
                doomed.append(snapshot)
    return doomed


def failed_backups(snapshots: Iterable[Snapshot]) -> list[Snapshot]:
    """Our backups (or DR copies) that RDS marked failed: they restore nothing and use up the quota."""
    return [snapshot for snapshot in snapshots if snapshot.is_backup and snapshot.failed]
