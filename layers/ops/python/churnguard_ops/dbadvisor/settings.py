"""PostgreSQL advisor settings, read from the environment CDK sets (prefix ``DBADVISOR_``)."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core import contracts
from churnguard_ops.core.postgres import RDS_CA_BUNDLE, SslMode
from churnguard_ops.dbadvisor.thresholds import Thresholds


class DbAdvisorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DBADVISOR_", extra="ignore")

    db_secrets: dict[str, str] = Field(default_factory=dict,
                                       description="instance id -> Secrets Manager id of its monitoring role")
    databases: dict[str, str] = Field(default_factory=dict,
                                      description="instance id -> database (default: the instance's DBName)")
    bucket: str | None = Field(None, description=f"Advice under {contracts.DBADVISOR_REPORTS_PREFIX}, proposals "
                                                 f"under {contracts.DBADVISOR_PROPOSALS_PREFIX}")
    kms_key_arn: str | None = None
    topic_arn: str | None = None
    statement_timeout_ms: int = Field(30_000, gt=0)
    connect_timeout_seconds: int = Field(10, gt=0)
    analyze_stale: bool = Field(False, description="ANALYZE the tables found with stale statistics (only those)")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    # TLS as the drill's: verify the RDS certificate against the bundle in the layer unless configured.
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: str | None = Field(RDS_CA_BUNDLE, description="default: the RDS CA bundle in the layer")
