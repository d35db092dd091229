"""Incident settings, read from the environment CDK sets (prefix ``INCIDENTS_``)."""
from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core.contracts import ALARM_SEVERITIES

DEFAULT_ESCALATION: dict[str, int | None] = {"critical": 5, "warning": 30, "info": None}


def check_escalation(value: dict[str, int | None]) -> dict[str, int | None]:
    """Known severities only, minutes >= 0 (None: never escalate); merged over the defaults."""
    unknown = sorted(set(value) - set(ALARM_SEVERITIES))
    if unknown:
        raise ValueError(f"unknown severities {unknown} (known: {', '.join(ALARM_SEVERITIES)})")
    negative = sorted(k for k, v in value.items() if v is not None and v < 0)
    if negative:
        raise ValueError(f"minutes must be >= 0 or null: {negative}")
    return {**DEFAULT_ESCALATION, **value}


class IncidentsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INCIDENTS_", extra="ignore")

    table: str = Field(..., description="The incidents table (incidents, timelines, pointers)")
    bucket: str = Field(..., description="Postmortem drafts go to this bucket")
    kms_key_arn: str | None = Field(None, description="Postmortems are encrypted with this key (SSE-KMS)")
    escalation_topic_arn: str | None = Field(None, description="Paged once when an incident is not acknowledged")
    group_window_minutes: int = Field(15, ge=0)
    escalate_after_minutes: dict[str, int | None] = Field(default_factory=lambda: dict(DEFAULT_ESCALATION))
    auto_resolve_minutes: int = Field(10, ge=0)
    retention_days: int = Field(90, ge=1)

    @field_validator("escalate_after_minutes")
    @classmethod
    def _escalation(cls, value: dict[str, int | None]) -> dict[str, int | None]:
        return check_escalation(value)
