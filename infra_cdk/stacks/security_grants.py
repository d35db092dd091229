"""IAM of the security functions: each one its tables, queue, topic and (remediation) the one WAF IP set."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2

from churnguard_ops.core.contracts import SECURITY_REPORTS_PREFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering

WHY_REPORTS = "Reports are written per organization and week: security/reports/<org>/<week>.{json,html}."
TABLE_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]


def grant_security_permissions(stack: Stack, *, foundation: Foundation, analyzer: OpsFunction,
                               remediator: OpsFunction, reporter: OpsFunction, state_table: dynamodb.ITable,
                               table: dynamodb.ITable, key: kms.IKey, dlq: sqs.IQueue, ip_set: wafv2.CfnIPSet) -> None:
    region, account, partition = stack.region, stack.account, Aws.PARTITION
    default_bus = f"arn:{partition}:events:{region}:{account}:event-bus/default"
    table_key = {"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}}
    key_actions = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    bucket = foundation.bucket

    g = RoleGrants(stack, analyzer.role)
    g.add("DetectorState", ["dynamodb:GetItem", "dynamodb:PutItem"], [state_table.table_arn])
    # Alerts (conditional put, mark published) and tallies (one transaction: seen marker + counters).
    g.add("AlertsAndTallies", ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"], [table.table_arn])
    g.add("TablesKey", key_actions, [key.key_arn], conditions=table_key)
    g.add("QuarantineMalformed", ["sqs:SendMessage"], [dlq.queue_arn])
    g.add("PublishAlerts", ["events:PutEvents"], [default_bus])
    g.add("AnnounceAlerts", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])

    g = RoleGrants(stack, remediator.role)
    g.add("BlockRecords", TABLE_ITEM_ACTIONS, [table.table_arn])
    g.add("TablesKey", key_actions, [key.key_arn], conditions=table_key)
    g.add("TheBlockedIpSet", ["wafv2:GetIPSet", "wafv2:UpdateIPSet"], [ip_set.attr_arn])
    g.add("PublishActions", ["events:PutEvents"], [default_bus])
    g.add("AnnounceActions", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])

    g = RoleGrants(stack, reporter.role)
    g.add("ReadAlertsAndTallies", ["dynamodb:Query"], [table.table_arn])
    g.add("TablesKey", ["kms:Decrypt", "kms:DescribeKey"], [key.key_arn], conditions=table_key)
    g.add("WriteReports", ["s3:PutObject"], [bucket.arn_for_objects(f"{SECURITY_REPORTS_PREFIX}*")],
          why_wildcard=WHY_REPORTS,
          also_rendered_as=[cross_stack_arn_rendering(Stack.of(bucket), bucket, f"/{SECURITY_REPORTS_PREFIX}*")])
    g.add("EncryptReports", ["kms:GenerateDataKey"], [foundation.key.key_arn])
    g.add("AnnounceReports", ["sns:Publish"], [foundation.topic.topic_arn])
    g.add("OpsTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    g.suppress_wildcards()
