"""Router settings, read from the environment the CDK app sets (prefix ``ALARMS_``)."""
from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts


class AlarmsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALARMS_", extra="ignore")

    prefix: str = Field(contracts.NAME_PREFIX, description="names the functions the actions invoke")
    routes: list[dict[str, Any]] = Field(default_factory=list, description="JSON routing table (alarms.routes)")
    topic_arns: dict[str, str] = Field(..., description="JSON severity -> SNS topic ARN")
    idempotency_table: str = Field(..., min_length=1)
    idempotency_ttl_seconds: int = Field(86400, ge=60)
    drill_state_machine_arn: str = ""
