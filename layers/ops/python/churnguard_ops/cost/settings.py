"""Cost report settings, read from the environment CDK sets (prefix ``COST_``)."""
from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts


class CostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COST_", extra="ignore")

    reports_bucket: str = Field(..., description=f"Reports go under {contracts.COST_REPORTS_PREFIX} in this bucket")
    kms_key_arn: str | None = Field(None, description="Reports are encrypted with this key (SSE-KMS)")
    topic_arn: str | None = Field(None, description="The ops SNS topic: a summary with a link to the report")
    lookback_days: int = Field(14, ge=1, le=63)
    period_seconds: int = Field(3600, ge=60)
    rules: list[dict[str, Any]] | None = Field(None, description="JSON list of rule specs; null: every rule")
    min_points: int = Field(30, ge=1, description="data points below which a resource gets no verdict")
    top: int = Field(10, ge=1, le=100)
    own_tag_key: str = contracts.OWN_COST_TAG[0]
    own_tag_value: str = contracts.OWN_COST_TAG[1]
    cost_metric: str = "UnblendedCost"
    link_expiry_seconds: int = Field(7 * 24 * 3600, ge=60, le=7 * 24 * 3600)
