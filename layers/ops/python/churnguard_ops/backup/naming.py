"""Snapshot identifiers derived from the schedule slot, so a retried or duplicated tick is a no-op."""
from __future__ import annotations

from datetime import datetime

from churnguard_ops.core import contracts
from churnguard_ops.core.snapshot_names import backup_snapshot_id as snapshot_id

__all__ = ["snapshot_id", "snapshot_tags"]


def snapshot_tags(instance_id: str, policy: str, slot: datetime, retention_date: datetime, *,
                  on_demand: bool = False) -> dict[str, str]:
    tags = {
        contracts.PURPOSE_TAG: contracts.PURPOSE_BACKUP,
        contracts.MARKER_TAG: contracts.MARKER_VALUE,
        contracts.POLICY_TAG: policy,
        contracts.SOURCE_INSTANCE_TAG: instance_id,
        contracts.SLOT_TAG: slot.isoformat(),
        contracts.RETENTION_DATE_TAG: retention_date.isoformat(),
    }
    if on_demand:
        tags[contracts.ON_DEMAND_TAG] = "true"
    return tags
