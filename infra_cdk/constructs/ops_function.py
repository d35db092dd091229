"""A Lambda function the way every ChurnGuard Ops function is built.

Own IAM role (no managed policies; log, X-Ray and DLQ rights added narrowly), an explicit
LogGroup with retention, active X-Ray tracing, arm64 + the newest Python runtime, the shared
layer, and -- for asynchronously invoked functions -- an SSE, TLS-only SQS dead-letter queue
that receives Lambda's on-failure records (and that EventBridge targets can use as their DLQ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from churnguard_ops.core.contracts import METRICS_NAMESPACE
from infra_cdk.layer import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME
from infra_cdk.nag import suppress

_CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/tests"]
_DEFAULT_TIMEOUT = Duration.minutes(1)
_DEFAULT_MAX_EVENT_AGE = Duration.hours(1)


class OpsFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        code_dir: Path,
        handler: str,
        description: str,
        service_name: str,
        layers: Sequence[lambda_.ILayerVersion] = (),
        environment: Mapping[str, str] | None = None,
        timeout: Duration = _DEFAULT_TIMEOUT,
        memory_size: int = 256,
        reserved_concurrent_executions: int | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        metrics_namespace: str = METRICS_NAMESPACE,
        log_level: str = "INFO",
        asynchronous: bool = True,
        async_retry_attempts: int = 2,
        max_event_age: Duration = _DEFAULT_MAX_EVENT_AGE,
    ) -> None:
        super().__init__(scope, construct_id)

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name} (least privilege, no managed policies)",
        )

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention,
            # A retained group with this fixed name would block a re-create of the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)

        self.dlq: sqs.Queue | None = None
        on_failure = None
        if asynchronous:
            self.dlq = sqs.Queue(
                self,
                "Dlq",
                queue_name=f"{function_name}-dlq",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            on_failure = destinations.SqsDestination(self.dlq)
            suppress(
                self.dlq, "SQS3",
                "This queue is itself the dead-letter queue (Lambda on-failure destination and "
                "EventBridge target DLQ); a DLQ for the DLQ adds nothing.",
            )

        env = {
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
            "LOG_LEVEL": log_level,
            **(environment or {}),
        }

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            code=lambda_.Code.from_asset(str(code_dir), exclude=_CODE_EXCLUDES),
            handler=handler,
            layers=list(layers),
            role=self.role,
            environment=env,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrent_executions,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            on_failure=on_failure,
            retry_attempts=async_retry_attempts if asynchronous else None,
            max_event_age=max_event_age if asynchronous else None,
        )

        # X-Ray is the one grant CDK adds for us that cannot be scoped.
        policy = self.role.node.try_find_child("DefaultPolicy")
        suppress(
            policy or self.role, "IAM5",
            "xray:PutTraceSegments and xray:PutTelemetryRecords support only Resource '*' "
            "(active tracing, added by CDK).",
            applies_to=["Resource::*"],
        )

    @property
    def stack(self) -> Stack:
        return Stack.of(self)
