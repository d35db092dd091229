"""Drill function settings, read from the environment CDK sets (prefix ``DRILL_``)."""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.core.postgres import RDS_CA_BUNDLE, SslMode


class DrillSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRILL_", extra="ignore")

    db_instance_ids: list[str] = Field(default_factory=list, description="The only instances that may be drilled")
    dr_region: str | None = None
    instance_class: str = "db.t3.micro"
    db_secrets: dict[str, str] = Field(default_factory=dict, description="instance id -> Secrets Manager id")
    bucket: str | None = Field(None, description="Backup bucket: baselines/ in, drills/ reports out")
    history_table: str | None = None
    topic_arn: str | None = None
    rto_minutes: float = Field(30, gt=0)
    rpo_minutes: float = Field(15, gt=0)
    expiry_hours: float = Field(6, gt=0, description="Sweeper deletes drill resources older than this")
    checks: list[dict] | None = Field(None, description="Integrity checks; None = the seed's defaults")
    performance_queries: list[dict] | None = None
    dr_subnet_group: str | None = None
    dr_security_group_ids: list[str] = Field(default_factory=list)
    statement_timeout_ms: int = Field(30_000, gt=0)
    # The index proof (DRILL_PROVE_INDEXES ...): the advisor's proposals timed on the copy with and without
    # the proposed index. Advisory: it never fails the drill.
    prove_indexes: bool = True
    max_index_proposals: int = Field(5, ge=1)
    max_proof_statements: int = Field(3, ge=1)
    proof_build_timeout_ms: int = Field(300_000, gt=0, description="CREATE INDEX / ANALYZE on the copy")
    # TLS to the restored copy (DRILL_DB_SSLMODE, DRILL_DB_SSLROOTCERT): verify the RDS certificate by
    # default. sslrootcert: a CA file, "system" (publicly trusted servers), or None for libpq's default.
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: str | None = Field(RDS_CA_BUNDLE, description="default: the RDS CA bundle in the layer")
