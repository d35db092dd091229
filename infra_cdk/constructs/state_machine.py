"""A Standard state machine the house way: logs ALL (with execution data) to a log group encrypted by the
capability's CMK, X-Ray tracing, and the cdk-nag reasons for what CDK grants it on '*'."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn

from infra_cdk.nag import resource_finding, suppress


def logged_state_machine(stack: Stack, *, state_machine_name: str, definition: sfn.IChainable, key: kms.Key,
                         timeout: Duration, comment: str, task_functions: Sequence[lambda_.IFunction],
                         key_policy_sid: str) -> tuple[sfn.StateMachine, logs.LogGroup]:
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=key_policy_sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": (
                f"arn:{Aws.PARTITION}:logs:{stack.region}:{stack.account}:log-group:"
                f"/aws/vendedlogs/states/{state_machine_name}"
            )}},
        )
    )
    log_group = logs.LogGroup(
        stack,
        "StateMachineLogGroup",
        # /aws/vendedlogs/ keeps the CloudWatch Logs resource policy small (AWS recommendation).
        log_group_name=f"/aws/vendedlogs/states/{state_machine_name}",
        encryption_key=key,
        retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=RemovalPolicy.DESTROY,
    )
    machine = sfn.StateMachine(
        stack,
        "StateMachine",
        state_machine_name=state_machine_name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        comment=comment,
    )
    role_policy = machine.role.node.find_child("DefaultPolicy")
    suppress(
        role_policy, "IAM5",
        "Step Functions log delivery (logs:CreateLogDelivery & co.) and X-Ray (xray:PutTraceSegments & co.) "
        "support only Resource '*' (added by CDK for logging level ALL and tracing).",
        applies_to=["Resource::*"],
    )
    suppress(
        role_policy, "IAM5",
        "CDK grants lambda:InvokeFunction on '<function arn>:*' (versions/aliases) next to the unqualified "
        "ARN; only this state machine's task functions are covered.",
        applies_to=[resource_finding(stack, f"{fn.function_arn}:*") for fn in task_functions],
    )
    return machine, log_group
