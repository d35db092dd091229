"""Composition root for the drill handlers."""
from __future__ import annotations

from churnguard_ops.core import aws
from churnguard_ops.core.metrics import EmfMetrics
from churnguard_ops.core.rds import RdsGateway
from churnguard_ops.core.stores import DynamoRecords, S3Documents, SecretsManagerCredentials, SnsNotifier
from churnguard_ops.drill.reporter import DrillReporter
from churnguard_ops.drill.settings import DrillSettings
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
