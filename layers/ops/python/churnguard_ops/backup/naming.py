"""Snapshot identifiers derived from the schedule slot, so a retried or duplicated tick is a no-op."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from churnguard_ops.core import contracts

_INVALID = re.compile(r"[^a-z0-9-]+")


def snapshot_id(instance_id: str, policy: str, slot: datetime, *, on_demand: bool = False) -> str:
    """``churnguard-ops-<instance>-<policy>-<YYYYMMDDTHHMM>``, within RDS identifier rules.

    An on-demand snapshot is ``...-<policy>-od-<YYYYMMDDTHHMMSS>``: its own id, never the schedule's.
    """
    utc = slot.astimezone(timezone.utc)
    stamp = f"od-{utc:%Y%m%dt%H%M%S}" if on_demand else f"{utc:%Y%m%dt%H%M}"
    raw = f"{contracts.SNAPSHOT_PREFIX}{instance_id}-{policy}-{stamp}".lower()
    cleaned = re.sub(r"-{2,}", "-", _INVALID.sub("-", raw)).strip("-")
    if len(cleaned) > 255:
        raise ValueError(f"snapshot id too long for RDS: {cleaned}")
    return cleaned


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
