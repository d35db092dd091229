"""Composition root: builds the backup service from settings and the real AWS adapters."""
from __future__ import annotations

from churnguard_ops.backup.adapters import KmsEncryptor, S3BucketGuard, SsmParameterSource
from churnguard_ops.backup.baselines import PostgresBaselineRecorder
from churnguard_ops.backup.service import BackupService
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.core import aws
from churnguard_ops.core.metrics import EmfMetrics
from churnguard_ops.core.ports import MetricsSink
from churnguard_ops.core.rds import RdsGateway
from churnguard_ops.core.stores import S3Documents, S3ObjectWriter, SecretsManagerCredentials


def build_backup_service(settings: BackupSettings | None = None, metrics: MetricsSink | None = None) -> BackupService:
    settings = settings or BackupSettings()  # fields come from the environment
    region = aws.default_region()
    primary = RdsGateway(region)
    baselines = None
    if settings.db_secrets:
        baselines = PostgresBaselineRecorder(settings.db_secrets, primary, SecretsManagerCredentials(region),
                                             S3Documents(settings.bucket, region))
    return BackupService(
        settings,
        primary=primary,
        dr=RdsGateway(settings.dr_region) if settings.dr_region else None,
        metrics=metrics or EmfMetrics(),
        parameters=SsmParameterSource(region),
        encryptor=KmsEncryptor(settings.kms_key_arn, region),
        objects=S3ObjectWriter(settings.kms_key_arn, region),
        buckets=S3BucketGuard(region),
        baselines=baselines,
    )
