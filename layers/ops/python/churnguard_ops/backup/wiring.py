"""Composition root: builds the backup service from settings and the real AWS adapters."""
from __future__ import annotations

from churnguard_ops import aws
from churnguard_ops.backup.adapters import KmsEncryptor, S3BucketGuard, S3ObjectStore, SsmParameterSource
from churnguard_ops.backup.metrics import EmfMetrics
from churnguard_ops.backup.ports import MetricsSink
from churnguard_ops.backup.rds_store import RdsSnapshotStore
from churnguard_ops.backup.service import BackupService
from churnguard_ops.backup.settings import BackupSettings


def build_backup_service(settings: BackupSettings | None = None, metrics: MetricsSink | None = None) -> BackupService:
    settings = settings or BackupSettings()  # type: ignore[call-arg]  # fields come from the environment
    region = aws.default_region()
    return BackupService(
        settings,
        primary=RdsSnapshotStore(region),
        dr=RdsSnapshotStore(settings.dr_region) if settings.dr_region else None,
        metrics=metrics or EmfMetrics(),
        parameters=SsmParameterSource(region),
        encryptor=KmsEncryptor(settings.kms_key_arn, region),
        objects=S3ObjectStore(settings.kms_key_arn, region),
        buckets=S3BucketGuard(region),
        baselines=_baselines(settings, region),
    )


def _baselines(settings: BackupSettings, region: str):  # type: ignore[no-untyped-def]
    if not settings.db_secrets:
        return None
    from churnguard_ops.drill.baseline_recorder import BaselineRecorder
    from churnguard_ops.drill.rds_gateway import RdsDrillGateway
    from churnguard_ops.drill.stores import S3Documents, SecretsManagerCredentials

    return BaselineRecorder(settings.db_secrets, RdsDrillGateway(region), SecretsManagerCredentials(region),
                            S3Documents(settings.bucket, region))
