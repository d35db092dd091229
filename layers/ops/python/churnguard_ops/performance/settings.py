"""Performance settings, read from the environment CDK sets (prefix ``PERFORMANCE_``)."""
from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts
from churnguard_ops.performance.config import DEFAULT_RULES, RecommendationRule, Targets
from churnguard_ops.performance.kinds import check_kinds, default_thresholds


class PerformanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFORMANCE_", extra="ignore")

    targets: Targets = Field(default_factory=Targets, description="JSON: api, functions, queues, databases")
    thresholds: dict[str, float] = Field(default_factory=dict, description="JSON: per kind, over the defaults")
    rules: list[RecommendationRule] | None = Field(None, description="JSON list; null: the default rules")
    check_period_seconds: int = Field(300, ge=60)
    check_periods: int = Field(3, ge=1, le=12)
    report_period_seconds: int = Field(3600, ge=60)
    report_hours: int = Field(24, ge=1, le=744)
    state_table: str = Field(..., description="The dedup table")
    state_ttl_days: int = Field(7, ge=1)
    reports_bucket: str = Field(..., description=f"Reports go under {contracts.PERFORMANCE_REPORTS_PREFIX}")
    kms_key_arn: str | None = None
    topic_arn: str | None = None

    @field_validator("thresholds")
    @classmethod
    def _known_positive(cls, value: dict[str, float]) -> dict[str, float]:
        check_kinds(value)
        if any(v <= 0 for v in value.values()):
            raise ValueError("thresholds must be positive")
        return value

    def merged_thresholds(self) -> dict[str, float]:
        return {**default_thresholds(), **self.thresholds}

    def rule_set(self) -> tuple[RecommendationRule, ...]:
        return tuple(self.rules) if self.rules is not None else DEFAULT_RULES

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
