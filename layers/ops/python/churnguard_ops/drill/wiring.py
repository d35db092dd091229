"""Composition root for the drill handlers."""
from __future__ import annotations

from churnguard_ops.core import aws
from churnguard_ops.core.metrics import EmfMetrics
from churnguard_ops.core.rds import RdsGateway
from churnguard_ops.core.stores import DynamoRecords, S3Documents, SecretsManagerCredentials, SnsNotifier
from churnguard_ops.drill.adapters import DynamoDrillHistory, RdsInstanceEvents
from churnguard_ops.drill.freshness import DrillFreshness
from churnguard_ops.drill.reporter import DrillReporter
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.timing import RestoreTimer
from churnguard_ops.drill.validation import DrillValidator
from churnguard_ops.drill.workflow import DrillWorkflow


def settings() -> DrillSettings:
    return DrillSettings()


def workflow(config: DrillSettings | None = None) -> DrillWorkflow:
    return DrillWorkflow(config or settings(), RdsGateway, aws.default_region())


def validator(config: DrillSettings | None = None) -> DrillValidator:
    config = config or settings()
    region = aws.default_region()
    return DrillValidator(config, RdsGateway, region, SecretsManagerCredentials(region),
                          S3Documents(config.bucket, region) if config.bucket else None)


def reporter(config: DrillSettings | None = None) -> DrillReporter:
    config = config or settings()
    region = aws.default_region()
    return DrillReporter(S3Documents(config.bucket, region) if config.bucket else None,
                         DynamoRecords(config.history_table, region) if config.history_table else None,
                         SnsNotifier(config.topic_arn, region) if config.topic_arn else None, EmfMetrics())


def restore_timer() -> RestoreTimer:
    return RestoreTimer(RdsInstanceEvents)


def freshness(config: DrillSettings | None = None) -> DrillFreshness:
    config = config or settings()
    if not config.history_table:
        raise ValueError("DRILL_HISTORY_TABLE: the drill history table is not configured")
    return DrillFreshness(config.db_instance_ids, DynamoDrillHistory(config.history_table, aws.default_region()),
                          EmfMetrics())
