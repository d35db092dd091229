"""Composition root: builds the backup service from settings and the real AWS adapters."""
from __future__ import annotations

from churnguard_ops.backup.adapters import KmsEncryptor, S3BucketGuard, SsmParameterSource
from churnguard_ops.backup.baselines import PostgresBaselineRecorder
from churnguard_ops.backup.recoverability import RecoverabilityProbe
from churnguard_ops.backup.service import BackupService
from churnguard_ops.backup.settings import BackupSettings, ProbeSettings
from churnguard_ops.core import aws
from churnguard_ops.core.clock import utcnow
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
                                             S3Documents(settings.bucket, region), sslmode=settings.db_sslmode,
                                             sslrootcert=settings.db_sslrootcert)
    return BackupService(
        settings,
        primary=primary,
        dr=RdsGateway(settings.dr_region) if settings.dr_region else None,
        metrics=metrics or EmfMetrics(),
        parameters=SsmParameterSource(region),
        encryptor=KmsEncryptor(settings.kms_key_arn, region),
        # The DR copy of configuration exports is encrypted in the DR region, so it survives the primary's loss.
        dr_encryptor=KmsEncryptor(settings.dr_kms_key_id, settings.dr_region, setting="BACKUP_DR_KMS_KEY_ID")
        if settings.dr_region else None,
        objects=S3ObjectWriter(settings.kms_key_arn, region),
        buckets=S3BucketGuard(region),
        baselines=baselines,
    )


def build_recoverability_probe(settings: ProbeSettings | None = None,
                               metrics: MetricsSink | None = None) -> RecoverabilityProbe:
    settings = settings or ProbeSettings()
    return RecoverabilityProbe(settings.db_instance_ids, RdsGateway(aws.default_region()), metrics or EmfMetrics(),
                               utcnow)
