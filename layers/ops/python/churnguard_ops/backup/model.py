"""Value objects the backup domain works with, independent of boto3 shapes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from churnguard_ops import MARKER_TAG, MARKER_VALUE
from churnguard_ops.clock import parse_time

IN_FLIGHT_STATES = frozenset({"creating", "copying", "pending", "modifying"})


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    arn: str
    region: str
    source_instance: str
    created_at: datetime | None
    status: str
    snapshot_type: str  # "manual" | "automated" | ...
    tags: dict[str, str] = field(default_factory=dict)
    encrypted: bool = False

    @property
    def ours(self) -> bool:
        return self.snapshot_type == "manual" and self.tags.get(MARKER_TAG) == MARKER_VALUE

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT_STATES

    @property
    def is_backup(self) -> bool:
        """One of our scheduled backups (drill snapshots are ours too, but not backups)."""
        return self.ours and self.tags.get("Purpose") == "DisasterRecovery"

    @property
    def retention_date(self) -> datetime | None:
        """None when missing or unreadable: such a snapshot is never pruned."""
        return parse_time(self.tags.get("RetentionDate"))

    @property
    def slot(self) -> datetime | None:
        """Our snapshots carry their schedule slot; it orders them even when create times tie."""
        return parse_time(self.tags.get("Slot")) or self.created_at


@dataclass(frozen=True)
class DbInstance:
    instance_id: str
    arn: str
    status: str
    storage_encrypted: bool
    multi_az: bool
    backup_retention_days: int
    deletion_protection: bool
    performance_insights: bool
    latest_restorable_time: datetime | None


OutcomeStatus = Literal["succeeded", "exists", "deferred", "skipped", "failed"]


class TargetOutcome(BaseModel):
    """What happened to one target in one tick. A tick fails if any outcome failed."""

    target: str
    action: str
    status: OutcomeStatus
    detail: str = ""
    data: dict = {}

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class PostureFinding(BaseModel):
    instance_id: str
    check: str
    passed: bool
    detail: str


class BackupReport(BaseModel):
    policy: str
    slot: datetime
    outcomes: list[TargetOutcome] = []
    posture: list[PostureFinding] = []

    @property
    def failures(self) -> list[TargetOutcome]:
        return [o for o in self.outcomes if o.failed]

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return f"{self.policy} backup for slot {self.slot.isoformat()}: {parts or 'nothing to do'}"
