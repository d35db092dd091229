"""RDS as every capability sees it: one instance model and one snapshot model, free of boto3 shapes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import parse_time
from churnguard_ops.core.snapshot_names import name_agrees_with_tags

IN_FLIGHT_STATES = frozenset({"creating", "copying", "pending", "modifying"})
#: A snapshot (or cross-region copy) RDS gave up on: it restores nothing but counts against the quota.
FAILED_STATES = frozenset({"failed"})


@dataclass(frozen=True)
class DbInstance:
    instance_id: str
    status: str
    arn: str = ""
    address: str | None = None
    port: int | None = None
    db_name: str | None = None
    subnet_group: str | None = None
    security_group_ids: list[str] = field(default_factory=list)
    storage_encrypted: bool = False
    multi_az: bool = False
    backup_retention_days: int = 0
    deletion_protection: bool = False
    performance_insights: bool = False
    latest_restorable_time: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    arn: str
    source_instance: str
    status: str
    created_at: datetime | None
    region: str = ""
    snapshot_type: str = "manual"  # "manual" | "automated" | ...
    encrypted: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    #: When the data was captured: a cross-region copy keeps its source's time here (its own
    #: ``created_at`` is when the copy was made).
    original_created_at: datetime | None = None

    @property
    def recovery_point_time(self) -> datetime | None:
        return self.original_created_at or self.created_at

    @property
    def ours(self) -> bool:
        return self.snapshot_type == "manual" and self.tags.get(contracts.MARKER_TAG) == contracts.MARKER_VALUE

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT_STATES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATES

    @property
    def is_backup(self) -> bool:
        """One of our backups: our tags, and the very name backups generate from those tags.

        Drill snapshots are ours too, but not backups. A copy made with copy-tags under another name
        (an operator's legal hold) carries our tags but is foreign: never pruned, never counted.
        """
        return (self.ours and self.tags.get(contracts.PURPOSE_TAG) == contracts.PURPOSE_BACKUP
                and name_agrees_with_tags(self.snapshot_id, self.source_instance, self.tags))

    @property
    def retention_date(self) -> datetime | None:
        """None when missing or unreadable: such a snapshot is never pruned."""
        return parse_time(self.tags.get(contracts.RETENTION_DATE_TAG))

    @property
    def slot(self) -> datetime | None:
        """Our snapshots carry their schedule slot; it orders them even when create times tie."""
        return parse_time(self.tags.get(contracts.SLOT_TAG)) or self.created_at


def tags_match(tags: dict[str, str], required: dict[str, str]) -> bool:
    return all(tags.get(key) == value for key, value in required.items())


def proves_ownership(tags: dict[str, str], required: dict[str, str]) -> bool:
    """True when ``tags`` carry ``required``, which must include our marker: an empty or marker-less
    requirement is a caller bug, and must never turn a guarded delete into an unguarded one."""
    if required.get(contracts.MARKER_TAG) != contracts.MARKER_VALUE:
        raise ValueError(f"a guarded delete must require {contracts.MARKER_TAG}={contracts.MARKER_VALUE}; "
                         f"got {required}")
    return tags_match(tags, required)
