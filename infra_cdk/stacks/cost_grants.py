"""IAM of the cost report function: read-only cost, metric and inventory APIs; its own report prefix."""

from __future__ import annotations

from aws_cdk import Aws, Stack

from churnguard_ops.core.contracts import COST_CACHE_PREFIX, COST_REPORTS_PREFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.settings import ChurnGuardContext

WHY_READ_ONLY = ("Cost Explorer, GetMetricData, the EC2/RDS Describe calls and the Pricing API support no "
                 "resource-level permissions; all are read-only.")
WHY_PREFIX = "Reports and the Cost Explorer cache are written per period under cost/reports/ and cost/cache/."


def grant_cost_permissions(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation,
                           reporter: OpsFunction) -> None:
    bucket = foundation.bucket
    g = RoleGrants(stack, reporter.role)
    g.add("ReadCostsMetricsInventoriesPrices", sorted(config.cost.permissions()), ["*"], why_wildcard=WHY_READ_ONLY)
    g.add("ReadRdsTags", ["rds:ListTagsForResource"],
          [f"arn:{Aws.PARTITION}:rds:{stack.region}:{stack.account}:db:*"],
          why_wildcard="Tags of every instance in the region (production and ownership tags).")
    prefixes = [bucket.arn_for_objects(f"{p}*") for p in (COST_REPORTS_PREFIX, COST_CACHE_PREFIX)]
    rendered = [cross_stack_arn_rendering(Stack.of(bucket), bucket, f"/{p}*")
                for p in (COST_REPORTS_PREFIX, COST_CACHE_PREFIX)]
    # GetObject: the cache, and the presigned link to the report (signed with this role's credentials).
    g.add("ReportsAndCache", ["s3:PutObject", "s3:GetObject"], prefixes, why_wildcard=WHY_PREFIX,
          also_rendered_as=rendered)
    g.add("OpsKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.key.key_arn])
    g.add("AnnounceReports", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    g.suppress_wildcards()
