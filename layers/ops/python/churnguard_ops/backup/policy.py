"""Backup policies: how often, how long, and where each kind of data is kept.

The one definition of the policy names and the seed defaults: the runtime settings, the CDK app's
context model and opsctl all import them from here. One EventBridge schedule exists per policy,
and each name maps to one flow (``service.FLOWS``).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

PolicyName = Literal["database", "configuration", "application_data"]  # the order `opsctl backup run` runs them
POLICY_NAMES: tuple[str, ...] = get_args(PolicyName)


class BackupPolicy(BaseModel):
    """One backup policy: how often its tick runs and how long its recovery points live."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule_minutes: int = Field(ge=1, le=10080, description="How often the policy's schedule fires (minutes)")
    retention_days: int = Field(ge=1, le=3650, description="How long a backup is kept after its slot")
    encrypted: bool = True
    cross_region: bool = False

    def slot_of(self, when: datetime) -> datetime:
        """The schedule slot an event time belongs to (its start), so retries map to one backup."""
        when = when.astimezone(timezone.utc)
        period = self.schedule_minutes * 60
        return datetime.fromtimestamp(int(when.timestamp()) // period * period, tz=timezone.utc)

    def retention_date(self, slot: datetime) -> datetime:
        return slot + timedelta(days=self.retention_days)


#: The seed's BackupPolicy table: used for every policy a configuration leaves out.
DEFAULT_POLICIES: dict[PolicyName, BackupPolicy] = {
    "database": BackupPolicy(schedule_minutes=60, retention_days=30, encrypted=True, cross_region=True),
    "application_data": BackupPolicy(schedule_minutes=1440, retention_days=90, encrypted=True, cross_region=False),
    "configuration": BackupPolicy(schedule_minutes=1440, retention_days=365, encrypted=True, cross_region=True),
}
assert set(DEFAULT_POLICIES) == set(POLICY_NAMES), "every policy name has a seed default"
