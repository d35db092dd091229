"""IAM of the incidents function: its table (and index), the postmortem prefix, the ops key, the escalation
topic, and incident events on the default bus (its own source only)."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns

from churnguard_ops.core.contracts import (
    INCIDENT_POSTMORTEMS_PREFIX,
    INCIDENTS_EVENT_SOURCE,
    INCIDENTS_STATUS_INDEX,
)
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants, cross_stack_arn_rendering

WHY_PREFIX = "Postmortem drafts are written per incident under incidents/postmortems/."


def grant_incidents_permissions(stack: Stack, *, foundation: Foundation, handler: OpsFunction,
                                table: dynamodb.ITable, escalation_topic: sns.ITopic) -> None:
    g = RoleGrants(stack, handler.role)
    g.add("Incidents", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                        "dynamodb:Query"], [table.table_arn])
    g.add("IncidentsByStatus", ["dynamodb:Query"], [f"{table.table_arn}/index/{INCIDENTS_STATUS_INDEX}"])
    # The table and the postmortems are encrypted with the ops key.
    g.add("OpsKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
          [foundation.key.key_arn])
    bucket = foundation.bucket
    g.add("WritePostmortems", ["s3:PutObject"], [bucket.arn_for_objects(f"{INCIDENT_POSTMORTEMS_PREFIX}*")],
          why_wildcard=WHY_PREFIX,
          also_rendered_as=[cross_stack_arn_rendering(Stack.of(bucket), bucket, f"/{INCIDENT_POSTMORTEMS_PREFIX}*")])
    g.add("PageEscalation", ["sns:Publish"], [escalation_topic.topic_arn])
    g.add("TopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    g.add("PublishIncidentEvents", ["events:PutEvents"],
          [f"arn:{Aws.PARTITION}:events:{stack.region}:{stack.account}:event-bus/default"],
          conditions={"StringEquals": {"events:source": INCIDENTS_EVENT_SOURCE}})
    g.suppress_wildcards()
