"""Flags library settings, read from the environment CDK sets (prefix ``FLAGS_``)."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts


class FlagsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLAGS_", extra="ignore")

    application: str = Field(contracts.FLAGS_APPLICATION, min_length=1, description="AppConfig application")
    environment: str = Field("production", min_length=1, description="AppConfig environment (deployment stage)")
    profile: str = Field(contracts.FLAGS_PROFILE, min_length=1, description="AppConfig configuration profile")
    cache_seconds: int = Field(45, ge=15, le=86_400,
                               description="poll interval: a change (a kill switch) is seen within this long")
    max_stale_seconds: int = Field(3600, ge=0,
                                   description="serve the last good document this long while the store fails")
    exposure_sample_rate: float = Field(0.1, ge=0.0, le=1.0, description="share of evaluations that emit FlagExposure")
