"""Security function settings, read from the environment CDK sets (prefix ``SECURITY_``)."""
from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.security.engine import DEFAULT_DEDUP_SECONDS, DEFAULT_LATENESS_SECONDS, DetectorSpec, Suppression


class SecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SECURITY_", extra="ignore")

    state_table: str = Field(..., description="DynamoDB table of detector state (key pk, TTL expires_at)")
    table: str = Field(..., description="DynamoDB table of alerts, event tallies and remediation records (pk, sk)")
    quarantine_queue_url: str = Field(..., description="The dead-letter queue malformed records go to, with a reason")
    topic_arn: str | None = Field(None, description="The ops SNS topic: every alert is announced there")
    event_bus_name: str = Field("default", description="Where alerts and remediation actions are published")
    detectors: list[DetectorSpec] | None = Field(None, description="JSON list of detector specs; null: all")
    dedup_seconds: float = Field(DEFAULT_DEDUP_SECONDS, ge=0)
    lateness_seconds: float = Field(DEFAULT_LATENESS_SECONDS, ge=0)
    suppressions: list[Suppression] = Field(default_factory=list)
    alert_retention_days: int = Field(400, ge=1)
    reports_bucket: str | None = Field(None, description="Weekly org reports go under security/reports/ here")
    remediation: dict[str, Any] = Field(default_factory=dict, description="RemediationPolicy as JSON")
    waf_ip_set_name: str | None = None
    waf_ip_set_id: str | None = None
    waf_scope: str = "REGIONAL"
