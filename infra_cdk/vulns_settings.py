"""The ``vulns`` context: schedules, SLA days per severity, and how soon an expiring exception is listed."""
from __future__ import annotations

import json

from pydantic import Field, field_validator

from churnguard_ops.vulns.model import DEFAULT_SLA_DAYS, SlaPolicy
from infra_cdk.context_types import ScheduleExpression, _Strict


class VulnsContext(_Strict):
    """Vulnerability management.

    ``sla_days``: days to fix per severity (critical, high, medium, low), merged over the defaults (CISA BOD 19-02's
    15 and 30, DefectDojo's 90 and 120), so cdk.json may name only what it changes. A finding of unknown severity
    runs on the high clock; informational ones have none."""

    poll_schedule: ScheduleExpression = "rate(6 hours)"
    report_schedule: ScheduleExpression = "cron(0 8 ? * MON *)"
    sla_days: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))
    expiring_within_days: int = Field(default=14, ge=1, le=365)
    # Each poll starts this long before its watermark: Inspector indexes an update a little late.
    overlap_seconds: int = Field(default=300, ge=0, le=86400)

    @field_validator("sla_days")
    @classmethod
    def _known_severities(cls, value: dict[str, int]) -> dict[str, int]:
        merged = {**DEFAULT_SLA_DAYS, **value}
        SlaPolicy.model_validate({"days": merged})  # the functions' own check: a typo fails the synth, not a poll
        return merged

    def lambda_environment(self) -> dict[str, str]:
        return {
            "VULNS_SLA_DAYS": json.dumps(self.sla_days, separators=(",", ":"), sort_keys=True),
            "VULNS_EXPIRING_WITHIN_DAYS": str(self.expiring_within_days),
            "VULNS_OVERLAP_SECONDS": str(self.overlap_seconds),
        }
