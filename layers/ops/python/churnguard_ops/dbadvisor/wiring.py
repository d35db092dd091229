"""Composition root of the advisor: settings + AWS adapters -> the use case."""
from __future__ import annotations

from churnguard_ops.core import aws
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.metrics import EmfMetrics
from churnguard_ops.core.rds import RdsGateway
from churnguard_ops.core.stores import S3ReportStore, SecretsManagerCredentials, SnsNotifier
from churnguard_ops.dbadvisor.adapters import RdsDatabaseConnector
from churnguard_ops.dbadvisor.service import DbAdvisor
from churnguard_ops.dbadvisor.settings import DbAdvisorSettings


def settings() -> DbAdvisorSettings:
    return DbAdvisorSettings()


def advisor(config: DbAdvisorSettings | None = None) -> DbAdvisor:
    config = config or settings()
    if not config.bucket:
        raise ValueError("DBADVISOR_BUCKET: the ops bucket is not configured")
    region = aws.default_region()
    connector = RdsDatabaseConnector(
        config.db_secrets, config.databases, RdsGateway, region, SecretsManagerCredentials(region),
        sslmode=config.db_sslmode, sslrootcert=config.db_sslrootcert,
        statement_timeout_ms=config.statement_timeout_ms, connect_timeout_seconds=config.connect_timeout_seconds)
    return DbAdvisor(sorted(config.db_secrets), connector, S3ReportStore(config.bucket, config.kms_key_arn, region),
                     SnsNotifier(config.topic_arn, region) if config.topic_arn else None, EmfMetrics(), utcnow,
                     thresholds=config.thresholds, analyze_stale=config.analyze_stale)
