"""Vulnerability management settings, read from the environment CDK sets (prefix ``VULNS_``)."""
from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts
from churnguard_ops.vulns.model import DEFAULT_SLA_DAYS, SlaPolicy


class VulnsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VULNS_", extra="ignore")

    ledger_table: str = Field(..., description="The ledger's DynamoDB table (findings and watermarks)")
    bucket: str = Field(..., description=f"Build reports are read under {contracts.VULNS_BUILD_REPORTS_PREFIX}, "
                                         f"reports written under {contracts.VULNS_REPORTS_PREFIX} in this bucket")
    kms_key_arn: str | None = Field(None, description="Reports are encrypted with this key (SSE-KMS)")
    topic_arn: str | None = Field(None, description="The ops SNS topic: the weekly summary")
    exceptions_key: str = Field(contracts.VULNS_EXCEPTIONS_KEY,
                                description="The exceptions file (vulnerability-exceptions.toml) in the bucket")
    function_prefix: str = Field(contracts.VULNS_FUNCTION_PREFIX, min_length=1,
                                 description="Our functions: Inspector findings and coverage are read for these")
    #: Deployed layer name -> its resource in the ledger (a layer's package is a finding on the layer).
    layer_resources: dict[str, str] = Field(
        default_factory=lambda: {f"{contracts.NAME_PREFIX}-shared": contracts.VULN_LAYER_RESOURCE})
    overlap_seconds: int = Field(300, ge=0, le=86400,
                                 description="Each poll starts this long before the watermark (late indexing)")
    page_size: int = Field(100, ge=1, le=100, description="ListFindings maxResults")
    sla_days: dict[str, int] = Field(default_factory=dict,
                                     description="Days to fix per severity, over the defaults (critical 15, high 30, "
                                                 "medium 90, low 120): a severity not named keeps its default")
    expiring_within_days: int = Field(14, ge=1, le=365, description="Exceptions expiring this soon are listed")

    @field_validator("layer_resources")
    @classmethod
    def _layers(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [r for r in value.values() if not r.startswith("layer:") or r == "layer:"]
        if bad:
            raise ValueError(f"layer resources must be named layer:<name>: {bad}")
        return value

    @field_validator("sla_days")
    @classmethod
    def _sla(cls, value: dict[str, int]) -> dict[str, int]:
        SlaPolicy.model_validate({"days": value})  # a severity typo or a day count below 1 fails at start-up
        return value

    def sla_policy(self) -> SlaPolicy:
        return SlaPolicy.model_validate({"days": {**DEFAULT_SLA_DAYS, **self.sla_days}})
