"""The ``performance`` context: which metrics to watch, their thresholds, and the schedules."""
from __future__ import annotations

import json

from pydantic import Field, field_validator

from churnguard_ops.performance.config import RecommendationRule, Targets
from churnguard_ops.performance.kinds import check_kinds, default_thresholds
from infra_cdk.context_types import ScheduleExpression, _Strict


class PerformanceContext(_Strict):
    """Performance alerts and reports.

    ``thresholds``: per metric kind, merged over the defaults (the seed's CPU 80 %, memory 85 %, API p99
    2,000 ms, queue depth 100; the others in ``churnguard_ops.performance.kinds``). ``rules`` replace the
    default recommendation rules (None: the defaults)."""

    check_schedule: ScheduleExpression = "rate(5 minutes)"
    report_schedule: ScheduleExpression = "cron(30 6 * * ? *)"
    report_hours: int = Field(default=24, ge=1, le=744)
    check_period_seconds: int = Field(default=300, ge=60, le=3600)
    check_periods: int = Field(default=3, ge=1, le=12)
    report_period_seconds: int = Field(default=3600, ge=60, le=86400)
    targets: Targets = Field(default_factory=Targets)
    # Per kind; a partial mapping is merged over the defaults (so cdk.json may name only what it changes).
    thresholds: dict[str, float] = Field(default_factory=default_thresholds)
    rules: list[RecommendationRule] | None = Field(default=None, min_length=1)
    alert_state_ttl_days: int = Field(default=7, ge=1, le=365)

    @field_validator("thresholds")
    @classmethod
    def _known_kinds_positive(cls, value: dict[str, float]) -> dict[str, float]:
        check_kinds(value)
        bad = sorted(k for k, v in value.items() if v <= 0)
        if bad:
            raise ValueError(f"thresholds must be positive: {bad}")
        return {**default_thresholds(), **value}

    @field_validator("check_period_seconds", "report_period_seconds")
    @classmethod
    def _whole_minutes(cls, value: int) -> int:
        if value % 60:
            raise ValueError("a period must be a whole number of minutes (CloudWatch periods of 60 s multiples)")
        return value

    def lambda_environment(self) -> dict[str, str]:
        def compact(value: object) -> str:
            return json.dumps(value, separators=(",", ":"), sort_keys=True)

        env = {
            "PERFORMANCE_TARGETS": compact(self.targets.model_dump(mode="json")),
            "PERFORMANCE_THRESHOLDS": compact(self.thresholds),
            "PERFORMANCE_CHECK_PERIOD_SECONDS": str(self.check_period_seconds),
            "PERFORMANCE_CHECK_PERIODS": str(self.check_periods),
            "PERFORMANCE_REPORT_PERIOD_SECONDS": str(self.report_period_seconds),
            "PERFORMANCE_REPORT_HOURS": str(self.report_hours),
            "PERFORMANCE_STATE_TTL_DAYS": str(self.alert_state_ttl_days),
        }
        if self.rules is not None:
            env["PERFORMANCE_RULES"] = compact([r.model_dump(mode="json") for r in self.rules])
        return env
