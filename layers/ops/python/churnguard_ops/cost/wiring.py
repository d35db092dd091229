"""Composition root of the cost report: settings + AWS adapters -> the use case."""
from __future__ import annotations

from churnguard_ops.core import aws
from churnguard_ops.core.clock import utcnow
from churnguard_ops.core.stores import S3Documents, SnsNotifier
from churnguard_ops.cost.adapters import (
    AwsInventorySource,
    BundledPriceTable,
    CloudWatchMetricSource,
    CostExplorerSource,
    PricingApiPriceBook,
)
from churnguard_ops.cost.report_store import S3ReportStore
from churnguard_ops.cost.rules import build_rules
from churnguard_ops.cost.service import CostReporter
from churnguard_ops.cost.settings import CostSettings


def settings() -> CostSettings:
    return CostSettings()  # the bucket comes from the environment (COST_REPORTS_BUCKET)


def reporter(config: CostSettings | None = None) -> CostReporter:
    config = config or settings()
    region = aws.default_region()
    return CostReporter(
        # Cost Explorer's endpoint is global (us-east-1), whatever the region of the resources.
        CostExplorerSource(S3Documents(config.reports_bucket, region), "us-east-1", metric=config.cost_metric,
                           own_tag=(config.own_tag_key, config.own_tag_value)),
        AwsInventorySource(region), CloudWatchMetricSource(region),
        PricingApiPriceBook(region, BundledPriceTable()), build_rules(config.rules),
        S3ReportStore(config.reports_bucket, config.kms_key_arn, region),
        SnsNotifier(config.topic_arn, region) if config.topic_arn else None, utcnow,
        lookback_days=config.lookback_days, period_seconds=config.period_seconds, min_points=config.min_points,
        top=config.top, link_expiry_seconds=config.link_expiry_seconds)
