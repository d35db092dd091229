"""IAM of the performance functions: metrics (read-only), the watched databases' classes, the dedup table, the
report prefix, the ops key and topic, and alerts on the default event bus."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb

from churnguard_ops.core.contracts import PERFORMANCE_EVENT_SOURCE, PERFORMANCE_REPORTS_PREFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering
from infra_cdk.settings import ChurnGuardContext

WHY_METRICS = "cloudwatch:GetMetricData supports no resource-level permissions (read-only)."
WHY_PREFIX = "Reports are written per window under performance/reports/."


def _metrics_and_databases(stack: Stack, g: RoleGrants, config: ChurnGuardContext) -> None:
    g.add("ReadMetrics", ["cloudwatch:GetMetricData"], ["*"], why_wildcard=WHY_METRICS)
    databases = config.performance.targets.databases
    if databases:  # the instance class gives the memory that FreeableMemory is a share of
        g.add("DescribeWatchedDatabases", ["rds:DescribeDBInstances"],
              [f"arn:{Aws.PARTITION}:rds:{stack.region}:{stack.account}:db:{db}" for db in databases])


def _topic(g: RoleGrants, foundation: Foundation) -> None:
    g.add("NotifyOpsTopic", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])


def grant_performance_permissions(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation,
                                  checker: OpsFunction, reporter: OpsFunction, table: dynamodb.ITable) -> None:
    g = RoleGrants(stack, checker.role)
    _metrics_and_databases(stack, g, config)
    g.add("AlertState", ["dynamodb:Scan", "dynamodb:PutItem"], [table.table_arn])
    # The table is encrypted with the ops key: DynamoDB uses it on the caller's behalf.
    g.add("AlertStateKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
          [foundation.key.key_arn])
    g.add("PublishAlerts", ["events:PutEvents"],
          [f"arn:{Aws.PARTITION}:events:{stack.region}:{stack.account}:event-bus/default"],
          conditions={"StringEquals": {"events:source": PERFORMANCE_EVENT_SOURCE}})
    _topic(g, foundation)
    g.suppress_wildcards()

    bucket = foundation.bucket
    r = RoleGrants(stack, reporter.role)
    _metrics_and_databases(stack, r, config)
    r.add("WriteReports", ["s3:PutObject"], [bucket.arn_for_objects(f"{PERFORMANCE_REPORTS_PREFIX}*")],
          why_wildcard=WHY_PREFIX,
          also_rendered_as=[cross_stack_arn_rendering(Stack.of(bucket), bucket, f"/{PERFORMANCE_REPORTS_PREFIX}*")])
    r.add("OpsKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.key.key_arn])
    _topic(r, foundation)
    r.suppress_wildcards()
