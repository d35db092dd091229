"""IAM of the alarm router: each configured action's permissions, scoped to exactly what it acts on."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sns as sns

from churnguard_ops.alarms.actions.abort_release import CANARY_ABORT_SUFFIX
from churnguard_ops.alarms.actions.start_backup import BACKUP_FUNCTION_SUFFIX
from churnguard_ops.core.contracts import INCIDENTS_FUNCTION_SUFFIX
from infra_cdk.constructs import Foundation, OpsFunction
from infra_cdk.constructs.grants import RoleGrants
from infra_cdk.settings import ChurnGuardContext

#: Functions each action invokes (by name suffix under the prefix).
INVOKED_FUNCTIONS = {"open_incident": INCIDENTS_FUNCTION_SUFFIX, "abort_release": CANARY_ABORT_SUFFIX,
                     "start_backup": BACKUP_FUNCTION_SUFFIX}
WHY_ALARM_TAGS = ("Any alarm in the account may change state and be routed; its tags say severity, team, "
                  "runbook and group (read-only).")


def grant_router_permissions(stack: Stack, *, config: ChurnGuardContext, foundation: Foundation, router: OpsFunction,
                             topics: list[sns.Topic], table: dynamodb.Table, drill_state_machine_arn: str) -> None:
    prefix = config.prefix
    actions = config.alarms.actions()
    g = RoleGrants(stack, router.role)
    g.add("ReadAlarmTags", ["cloudwatch:ListTagsForResource"],
          [f"arn:{Aws.PARTITION}:cloudwatch:{stack.region}:{stack.account}:alarm:*"], why_wildcard=WHY_ALARM_TAGS)
    g.add("IdempotencyRecords", ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                                 "dynamodb:DeleteItem"], [table.table_arn])
    g.add("IdempotencyKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.key.key_arn])
    if "notify" in actions:
        g.add("PublishAlerts", ["sns:Publish"], [t.topic_arn for t in topics])
        g.add("AlertTopicsKey", ["kms:GenerateDataKey", "kms:Decrypt"], [foundation.topic_key.key_arn])
    functions = sorted(f"arn:{Aws.PARTITION}:lambda:{stack.region}:{stack.account}:function:{prefix}-{suffix}"
                       for action, suffix in INVOKED_FUNCTIONS.items() if action in actions)
    if functions:
        g.add("InvokeActionFunctions", ["lambda:InvokeFunction"], functions)
    machines = config.alarms.state_machine_arns() + ([drill_state_machine_arn] if "start_drill" in actions else [])
    if machines:
        g.add("StartConfiguredExecutions", ["states:StartExecution"], machines)
    g.suppress_wildcards()
