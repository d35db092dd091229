"""Backup policies: how often, how long, and where each kind of data is kept.

Defaults are the seed's BackupPolicy table. One EventBridge schedule exists per policy.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, Field

PolicyName = Literal["database", "application_data", "configuration"]


class BackupPolicy(BaseModel, frozen=True):
    schedule_minutes: int = Field(gt=0, description="How often the policy's schedule fires")
    retention_days: int = Field(gt=0, description="How long a backup is kept after its slot")
    encrypted: bool = True
    cross_region: bool = False

    def slot_of(self, when: datetime) -> datetime:
        """The schedule slot an event time belongs to (its start), so retries map to one backup."""
        when = when.astimezone(timezone.utc)
        period = self.schedule_minutes * 60
        return datetime.fromtimestamp(int(when.timestamp()) // period * period, tz=timezone.utc)

    def retention_date(self, slot: datetime) -> datetime:
        return slot + timedelta(days=self.retention_days)


DEFAULT_POLICIES: dict[str, BackupPolicy] = {
    "database": BackupPolicy(schedule_minutes=60, retention_days=30, encrypted=True, cross_region=True),
    "application_data": BackupPolicy(schedule_minutes=1440, retention_days=90, encrypted=True, cross_region=False),
    "configuration": BackupPolicy(schedule_minutes=1440, retention_days=365, encrypted=True, cross_region=True),
}
