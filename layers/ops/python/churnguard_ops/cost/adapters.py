"""The AWS adapters of the cost ports, in one import for ``wiring``: Cost Explorer (:mod:`.explorer`),
CloudWatch metrics (:mod:`.cloudwatch`), the EC2/RDS/EBS inventory (:mod:`.inventory`) and prices
(:mod:`.pricing`: the Pricing API with the bundled, dated table as fallback)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from churnguard_ops.cost.cloudwatch import CloudWatchMetricSource
from churnguard_ops.cost.explorer import CACHE_PREFIX, CostExplorerSource
from churnguard_ops.cost.inventory import AwsInventorySource
from churnguard_ops.cost.pricing import BundledPriceTable, PricingApiPriceBook

__all__ = ["CACHE_PREFIX", "AwsInventorySource", "BundledPriceTable", "CloudWatchMetricSource",
           "CostExplorerSource", "PricingApiPriceBook"]

if TYPE_CHECKING:  # each adapter stands for its port (mypy checks these assignments)
    from churnguard_ops.core.stores import S3Documents
    from churnguard_ops.cost import ports

    _costs: ports.CostSource = CostExplorerSource(S3Documents("ops-bucket"))
    _inventory: ports.InventorySource = AwsInventorySource()
    _metrics: ports.MetricSource = CloudWatchMetricSource()
    _prices: ports.PriceBook = PricingApiPriceBook("us-east-1", BundledPriceTable())
    _table: ports.PriceBook = BundledPriceTable()
