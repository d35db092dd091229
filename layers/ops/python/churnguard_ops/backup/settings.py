"""Backup function settings, read from the environment CDK sets (prefix ``BACKUP_``)."""
from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churnguard_ops.backup.policy import DEFAULT_POLICIES, BackupPolicy, PolicyName
from churnguard_ops.core.postgres import RDS_CA_BUNDLE, SslMode

#: Encryption context key binding an exported SecureString's ciphertext to its parameter name; the CDK
#: grant on the DR key is conditioned on it (belongs in core.contracts once that module is free to edit).
SECURE_STRING_CONTEXT_KEY = "churnguard:parameter"


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKUP_", extra="ignore")

    db_instance_ids: list[str] = Field(default_factory=list)
    dr_region: str | None = None
    dr_kms_key_id: str | None = Field(None, description="KMS key in the DR region: snapshot copies and the "
                                                        "SecureStrings of the DR configuration export")
    bucket: str = Field(description="Backup bucket in the primary region")
    kms_key_arn: str | None = Field(None, description="CMK that envelope-encrypts SecureString values")
    dr_bucket: str | None = None
    ssm_paths: list[str] = Field(default_factory=list)
    app_data_buckets: list[str] = Field(default_factory=list)
    keep_latest: int = Field(3, ge=1, description="Newest snapshots per source never pruned")
    manual_snapshot_quota: int = Field(100, gt=0, description="RDS manual snapshots per region")
    quota_warn_ratio: float = Field(0.9, gt=0, le=1)
    max_copies_in_flight: int = Field(5, ge=1, description="Cross-region copies in progress per DR region")
    db_secrets: dict[str, str] = Field(default_factory=dict,
                                       description="instance id -> Secrets Manager id; enables row-count baselines")
    # TLS to the source databases whose row counts are recorded (BACKUP_DB_SSLMODE, BACKUP_DB_SSLROOTCERT), as the
    # drill's: verify the RDS certificate by default. sslrootcert: a CA file, "system", or None for libpq's default.
    db_sslmode: SslMode = "verify-full"
    db_sslrootcert: str | None = Field(RDS_CA_BUNDLE, description="default: the RDS CA bundle in the layer")
    policies: dict[PolicyName, BackupPolicy] = Field(default_factory=lambda: dict(DEFAULT_POLICIES))
    # EventBridge retries a delivery for up to 2 h and Lambda's async queue for up to 1 h more: an older
    # event is a replay, whose backup would be expired at birth or stay "newest" for ever.
    max_event_age_minutes: int = Field(180, ge=1, description="Older events are refused")
    max_clock_skew_minutes: int = Field(5, ge=0, description="Events further in the future are refused")

    @field_validator("policies")
    @classmethod
    def _complete_policies(cls, value: dict[PolicyName, BackupPolicy]) -> dict[PolicyName, BackupPolicy]:
        return {**DEFAULT_POLICIES, **value}

    @field_validator("ssm_paths")
    @classmethod
    def _absolute_paths(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not p.startswith("/")]
        if bad:
            raise ValueError(f"SSM paths must start with '/': {bad}")
        return value


class ProbeSettings(BaseSettings):
    """The recoverability probe reads only which instances to measure (the backup function's variable)."""

    model_config = SettingsConfigDict(env_prefix="BACKUP_", extra="ignore")

    db_instance_ids: list[str] = Field(default_factory=list)
