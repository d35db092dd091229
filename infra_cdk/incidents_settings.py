"""The ``incidents`` context: grouping window, escalation, auto-resolve, retention and the sweep's schedule."""
from __future__ import annotations

import json

from pydantic import Field, field_validator

from churnguard_ops.incidents.settings import DEFAULT_ESCALATION, check_escalation
from infra_cdk.context_types import ScheduleExpression, _Strict


class IncidentsContext(_Strict):
    """Incidents: grouping window, escalation, auto-resolve, postmortems.

    ``escalate_after_minutes``: per severity (critical, warning, info), minutes an incident may stay
    unacknowledged before the escalation topic is paged once; null never escalates. A partial mapping is merged
    over the defaults (critical 5, warning 30, info never)."""

    sweep_schedule: ScheduleExpression = "rate(1 minute)"
    group_window_minutes: int = Field(default=15, ge=0, le=24 * 60)
    escalate_after_minutes: dict[str, int | None] = Field(default_factory=lambda: dict(DEFAULT_ESCALATION))
    auto_resolve_minutes: int = Field(default=10, ge=0, le=24 * 60)
    retention_days: int = Field(default=90, ge=1, le=3650)

    @field_validator("escalate_after_minutes")
    @classmethod
    def _escalation(cls, value: dict[str, int | None]) -> dict[str, int | None]:
        return check_escalation(value)

    def lambda_environment(self) -> dict[str, str]:
        return {
            "INCIDENTS_GROUP_WINDOW_MINUTES": str(self.group_window_minutes),
            "INCIDENTS_ESCALATE_AFTER_MINUTES": json.dumps(self.escalate_after_minutes, separators=(",", ":"),
                                                           sort_keys=True),
            "INCIDENTS_AUTO_RESOLVE_MINUTES": str(self.auto_resolve_minutes),
            "INCIDENTS_RETENTION_DAYS": str(self.retention_days),
        }
