"""The names backups give their snapshots, and the test that a snapshot's name and tags agree.

Backups create names from (instance, policy, slot); retention and DR copies recognise their own
snapshots by regenerating that name from the tags. A snapshot copied with copy-tags under another
name (a legal-hold copy) carries our tags but not our name, so it is never pruned or counted.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import parse_time

_INVALID = re.compile(r"[^a-z0-9-]+")
#: RDS DB snapshot identifiers are at most 255 characters.
MAX_SNAPSHOT_ID = 255


def backup_snapshot_id(instance_id: str, policy: str, slot: datetime, *, on_demand: bool = False) -> str:
    """``churnguard-ops-<instance>-<policy>-<YYYYMMDDTHHMM>``, within RDS identifier rules.

    An on-demand snapshot is ``...-<policy>-od-<YYYYMMDDTHHMMSS>``: its own id, never the schedule's.
    """
    utc = slot.astimezone(timezone.utc)
    stamp = f"od-{utc:%Y%m%dt%H%M%S}" if on_demand else f"{utc:%Y%m%dt%H%M}"
    raw = f"{contracts.SNAPSHOT_PREFIX}{instance_id}-{policy}-{stamp}".lower()
    cleaned = re.sub(r"-{2,}", "-", _INVALID.sub("-", raw)).strip("-")
    if len(cleaned) > MAX_SNAPSHOT_ID:
        raise ValueError(f"snapshot id too long for RDS: {cleaned}")
    return cleaned


def name_agrees_with_tags(snapshot_id: str, source_instance: str, tags: Mapping[str, str]) -> bool:
    """True when ``snapshot_id`` is exactly the name backups generate from the snapshot's own tags,
    and those tags name the instance RDS says the snapshot was taken from."""
    instance = tags.get(contracts.SOURCE_INSTANCE_TAG)
    policy = tags.get(contracts.POLICY_TAG)
    slot = parse_time(tags.get(contracts.SLOT_TAG))
    if not instance or not policy or slot is None or instance != source_instance:
        return False
    on_demand = tags.get(contracts.ON_DEMAND_TAG) == "true"
    try:
        return snapshot_id == backup_snapshot_id(instance, policy, slot, on_demand=on_demand)
    except ValueError:
        return False
