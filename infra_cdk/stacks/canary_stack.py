"""Canary gates: the release state machine, its task Lambdas, the alarm-driven abort and the release lock.

``opsctl canary run`` (or a pipeline) starts ``churnguard-ops-canary-release`` with a release request:
Validate takes the alias's lock, SmokeTest invokes the new version directly, then each step shifts the
alias's weight, bakes and is judged on one CloudWatch GetMetricData call. Any CloudWatch alarm that goes
to ALARM reaches the abort function through EventBridge, which rolls back every release it gates at once.
Decision records go to the ops bucket and EventBridge; failed releases alarm on the ops topic.

One module per concern: ``canary_workflow`` (the state machine), ``canary_grants`` (IAM).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from constructs import Construct

from churnguard_ops.core.contracts import CANARY_EVENT_SOURCE
from infra_cdk.constructs import Foundation
from infra_cdk.flags_target import FlagsTarget
from infra_cdk.paths import FUNCTIONS_DIR
from infra_cdk.settings import ChurnGuardContext
from infra_cdk.stacks.canary_grants import grant_canary_permissions
from infra_cdk.stacks.canary_workflow import create_canary_state_machine

CANARY_SERVICE_NAME = "canary"
CANARY_CODE_DIR = FUNCTIONS_DIR / "canary"
#: Name of the EventBridge rule that sends alarm state changes to the abort function (contract).
ABORT_RULE_SUFFIX = "canary-alarm-abort"
ENDED_RULE_SUFFIX = "canary-release-ended"


class CanaryStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ChurnGuardContext, foundation: Foundation,
                 flags: FlagsTarget | None = None, **kwargs: Any) -> None:
        """``flags``: the feature flags' AppConfig ids (the flags stack's); None: no flag releases."""
        super().__init__(scope, construct_id, **kwargs)
        prefix = config.prefix
        canary = config.canary
        self.flags = flags
        self.state_machine_name = f"{prefix}-canary-release"

        self.key = kms.Key(self, "CanaryKey", alias=f"alias/{prefix}-canary", enable_key_rotation=True,
                           description=f"{prefix}: canary release lock table and state machine logs")
        # One item per alias being released: a conditional put refuses a second release; an abandoned
        # lock expires (TTL) after the longest a release may run.
        self.lock_table = dynamodb.Table(
            self, "ReleaseLockTable", table_name=f"{prefix}-canary-releases",
            partition_key=dynamodb.Attribute(name="lock_key", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST, time_to_live_attribute="expires_epoch",
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=RemovalPolicy.DESTROY)

        environment = {
            **canary.lambda_environment(),
            "CANARY_LOCK_TABLE": self.lock_table.table_name,
            "CANARY_DECISIONS_BUCKET": foundation.bucket.bucket_name,
            "CANARY_TOPIC_ARN": foundation.topic.topic_arn,
            **(flag_environment(self, flags) if flags is not None else {}),
        }

        def function(construct_id: str, key: str, handler: str, description: str, *,
                     asynchronous: bool = False) -> Any:
            # An abort delivered late is no longer "at once": give up after 10 minutes (the DLQ alarm pages).
            extra = {"max_event_age": Duration.minutes(10)} if asynchronous else {}
            return foundation.function(
                self, construct_id, function_name=f"{prefix}-canary-{key}", code_dir=CANARY_CODE_DIR,
                handler=handler, description=description, service_name=CANARY_SERVICE_NAME,
                environment=environment, timeout=Duration.seconds(60), asynchronous=asynchronous, **extra)

        # Called synchronously by the state machine (its Retry/Catch apply), so no DLQ.
        self.release = function("ReleaseFunction", "release", "app.release",
                                "Canary release tasks: validate, smoke, shift, evaluate, promote, roll back")
        self.decide = function("DecisionRequestFunction", "decide", "app.await_decision",
                               "Canary release: announce an approval or hold that waits for a human")
        self.abort = function("AbortFunction", "abort", "app.abort",
                              "Canary release: roll back at once when a gating alarm goes to ALARM",
                              asynchronous=True)
        grant_canary_permissions(self, config=config, foundation=foundation, release=self.release,
                                 decide=self.decide, abort=self.abort, lock_table=self.lock_table, key=self.key,
                                 state_machine_name=self.state_machine_name, flags=flags)

        self.state_machine, self.log_group = create_canary_state_machine(
            self, state_machine_name=self.state_machine_name, release=self.release.function,
            decide=self.decide.function, key=self.key, timeout=Duration.hours(canary.max_release_hours))

        # --- alarm-driven abort -----------------------------------------------------------------
        assert self.abort.dlq is not None
        self.abort_rule = events.Rule(
            self, "AlarmAbortRule", rule_name=f"{prefix}-{ABORT_RULE_SUFFIX}",
            description="Any CloudWatch alarm going to ALARM: roll back the releases it gates, at once",
            event_pattern=events.EventPattern(source=["aws.cloudwatch"], detail_type=["CloudWatch Alarm State Change"],
                                              detail={"state": {"value": ["ALARM"]}}))
        self.abort_rule.add_target(targets.LambdaFunction(
            self.abort.function, dead_letter_queue=self.abort.dlq, retry_attempts=2,
            max_event_age=Duration.minutes(10)))  # an abort that late is no longer "at once": page instead

        # A release whose execution ends holding the alias (stopped by hand, timed out, failed past every
        # Catch) would leave traffic split until the lock expires: the abort function rolls it back.
        self.ended_rule = events.Rule(
            self, "ReleaseEndedRule", rule_name=f"{prefix}-{ENDED_RULE_SUFFIX}",
            description="A canary release execution ended abnormally: roll back what it still holds",
            event_pattern=events.EventPattern(
                source=["aws.states"], detail_type=["Step Functions Execution Status Change"],
                detail={"status": ["ABORTED", "TIMED_OUT", "FAILED"],
                        "stateMachineArn": [self.state_machine.state_machine_arn]}))
        self.ended_rule.add_target(targets.LambdaFunction(
            self.abort.function, dead_letter_queue=self.abort.dlq, retry_attempts=2, max_event_age=Duration.hours(1)))

        # --- alarms ---------------------------------------------------------------------------------
        self.alarms: list[cw.Alarm] = [
            foundation.any_alarm(self, "ReleasesFailedAlarm", self.state_machine.metric_failed(
                period=Duration.minutes(5), statistic="Sum"), alarm_name=f"{prefix}-canary-release-failed",
                description="A canary release failed: rolled back (see the execution's cause), refused, "
                            "or its rollback itself failed."),
            foundation.any_alarm(self, "ReleasesTimedOutAlarm", self.state_machine.metric_timed_out(
                period=Duration.minutes(5), statistic="Sum"), alarm_name=f"{prefix}-canary-release-timed-out",
                description=f"A canary release ran longer than {canary.max_release_hours} h (a human never "
                            "answered?); check the alias."),
            foundation.errors_alarm(self, "AbortErrorsAlarm", self.abort.function,
                                    alarm_name=f"{prefix}-canary-abort-errors",
                                    description="The alarm-driven abort failed: a release may still be shifting "
                                                "traffic while its alarm fires."),
            foundation.dlq_alarm(self, "AbortDlqAlarm", self.abort.dlq, alarm_name=f"{prefix}-canary-abort-dlq",
                                 what="An alarm-driven canary abort"),
        ]

        CfnOutput(self, "CanaryStateMachineArn", value=self.state_machine.state_machine_arn,
                  description="Start a canary release here (opsctl canary run)")
        CfnOutput(self, "CanaryLockTableName", value=self.lock_table.table_name,
                  description="Releases in progress, one per alias")
        CfnOutput(self, "CanaryEventSource", value=CANARY_EVENT_SOURCE,
                  description="EventBridge source of decisions and release events")


def flag_environment(stack: Stack, flags: FlagsTarget) -> dict[str, str]:
    """The ``CANARY_FLAGS_*`` variables ``churnguard_ops.canary.settings`` reads (ids may be cross-stack tokens)."""
    return {"CANARY_FLAGS_APPLICATION_ID": flags.application_id, "CANARY_FLAGS_PROFILE_ID": flags.profile_id,
            "CANARY_FLAGS_STRATEGY_ID": flags.deployment_strategy_id,
            "CANARY_FLAGS_ENVIRONMENTS": stack.to_json_string(dict(flags.environment_ids)),
            "CANARY_FLAGS_PROPAGATION_SECONDS": str(flags.propagation_seconds)}
