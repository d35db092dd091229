"""What a backup tick reports: one outcome per target, the posture findings, a summary.

RDS instances and snapshots are the shared models of :mod:`churnguard_ops.core.rds_model`."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

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
    on_demand: bool = False
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
