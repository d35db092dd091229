"""Canary function settings, read from the environment CDK sets (prefix ``CANARY_``)."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts


class CanarySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CANARY_", extra="ignore")

    decisions_bucket: str | None = Field(
        None, description=f"Decision records go under {contracts.CANARY_DECISIONS_PREFIX} in this bucket")
    event_bus_name: str = Field("default", description="Where decisions and release events are published")
    lock_table: str = Field(..., description="DynamoDB table (key lock_key, TTL expires_epoch): one release per alias")
    topic_arn: str | None = Field(None, description="The ops SNS topic: approvals and holds are announced there")
    functions: list[str] = Field(default_factory=list,
                                 description="Functions that may be released; empty = any the role can update")
    # Feature-flag releases (set when the CDK app hands the canary stack the flags' AppConfig ids; unset: none).
    flags_application_id: str | None = Field(None, description="The flags AppConfig application's id")
    flags_profile_id: str | None = Field(None, description="The feature-flags configuration profile's id")
    flags_strategy_id: str | None = Field(None, description="The immediate deployment strategy's id")
    flags_environments: dict[str, str] = Field(default_factory=dict,
                                               description="Environment name -> AppConfig environment id")
    flags_propagation_seconds: int = Field(0, ge=0, le=3600,
                                           description="The flags' cache period + 1 s: when every application "
                                                       "has seen a deployment (a request may override it)")

    @property
    def flags_configured(self) -> bool:
        return bool(self.flags_application_id and self.flags_profile_id and self.flags_strategy_id
                    and self.flags_environments)
