"""The restore-drill state machine: plan, restore, poll, validate, measure, prove indexes, ALWAYS clean up, report.

Every task that may have created a resource catches any error into Cleanup; Cleanup's own failure
still reaches Report; only Report's failure ends the execution without a report.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from churnguard_ops.core.contracts import TRANSIENT_ERROR_NAMES
from infra_cdk.constructs.state_machine import logged_state_machine
from infra_cdk.settings import DRILL_STATE_MACHINE_TIMEOUT_HOURS
from infra_cdk.stacks.drill_spec import (
    LAMBDA_TRANSIENT_ERRORS,
    STATE_CLEANUP,
    STATE_DRILL_PASSED,
    STATE_FAILED,
    STATE_INSTANCE_AVAILABLE,
    STATE_MEASURE,
    STATE_PLAN,
    STATE_POLL_INSTANCE,
    STATE_POLL_SNAPSHOT,
    STATE_PROVE_INDEXES,
    STATE_RECOVERY_POINT_READY,
    STATE_REPORT,
    STATE_RESTORE,
    STATE_SUCCEEDED,
    STATE_VALIDATE,
    STATE_WAIT_FOR_INSTANCE,
    STATE_WAIT_FOR_SNAPSHOT,
)

#: The functions the state machine invokes (DrillFunctionSpec keys); the sweeper runs on its own schedule.
TASK_FUNCTIONS = ("plan", "poll", "restore", "validate", "measure", "prove", "cleanup", "report")


def _task(stack: Stack, construct_id: str, function: lambda_.IFunction, result_path: str,
          payload: sfn.TaskInput | None = None) -> tasks.LambdaInvoke:
    return tasks.LambdaInvoke(
        stack,
        construct_id,
        state_name=construct_id,
        lambda_function=function,
        payload=payload,  # None: the whole state ($) is the payload
        payload_response_only=True,
        result_path=result_path,
        # The contract's own Retry (below) replaces CDK's default service-exception retry.
        retry_on_service_exceptions=False,
    )


def _definition(stack: Stack, functions: Mapping[str, lambda_.IFunction]) -> sfn.IChainable:
    def task(construct_id: str, key: str, result_path: str, payload: sfn.TaskInput | None = None) -> tasks.LambdaInvoke:
        return _task(stack, construct_id, functions[key], result_path, payload)

    def poll_payload(target: str) -> sfn.TaskInput:
        return sfn.TaskInput.from_object({"target": target, "drill": sfn.JsonPath.entire_payload})

    # The execution from the context object, not the input: the drill id (and so every resource name
    # Plan creates and Cleanup deletes, and the report's key) is derived from it, so an input that
    # carries another drill's plan or id cannot aim Cleanup or the history at that drill.
    with_execution = sfn.TaskInput.from_object({
        "execution": {"id": sfn.JsonPath.string_at("$$.Execution.Id"),
                      "name": sfn.JsonPath.string_at("$$.Execution.Name"),
                      "started_at": sfn.JsonPath.string_at("$$.Execution.StartTime")},
        "drill": sfn.JsonPath.entire_payload,
    })

    plan = task(STATE_PLAN, "plan", "$.plan", with_execution)
    poll_snapshot = task(STATE_POLL_SNAPSHOT, "poll", "$.plan.wait", poll_payload("snapshot"))
    restore = task(STATE_RESTORE, "restore", "$.restore")
    poll_instance = task(STATE_POLL_INSTANCE, "poll", "$.restore.wait", poll_payload("instance"))
    validate = task(STATE_VALIDATE, "validate", "$.validation")
    measure = task(STATE_MEASURE, "measure", "$.performance")
    prove = task(STATE_PROVE_INDEXES, "prove", "$.index_proof")
    cleanup = task(STATE_CLEANUP, "cleanup", "$.cleanup", with_execution)
    report = task(STATE_REPORT, "report", "$.report", with_execution)

    succeeded = sfn.Succeed(stack, STATE_SUCCEEDED, state_name=STATE_SUCCEEDED)
    failed = sfn.Fail(stack, STATE_FAILED, state_name=STATE_FAILED, error="DrillFailed",
                      cause="restore drill failed; see report")

    wait_for_snapshot = sfn.Wait(stack, STATE_WAIT_FOR_SNAPSHOT, state_name=STATE_WAIT_FOR_SNAPSHOT,
                                 time=sfn.WaitTime.seconds_path("$.plan.wait.next_wait_seconds"))
    wait_for_instance = sfn.Wait(stack, STATE_WAIT_FOR_INSTANCE, state_name=STATE_WAIT_FOR_INSTANCE,
                                 time=sfn.WaitTime.seconds_path("$.restore.wait.next_wait_seconds"))
    recovery_point_ready = sfn.Choice(stack, "RecoveryPointReady", state_name=STATE_RECOVERY_POINT_READY)
    instance_available = sfn.Choice(stack, "InstanceAvailable", state_name=STATE_INSTANCE_AVAILABLE)
    drill_passed = sfn.Choice(stack, "DrillPassed", state_name=STATE_DRILL_PASSED)

    # Anything that may have created a resource goes to Cleanup on any error.
    for risky in (plan, poll_snapshot, restore, poll_instance, validate, measure, prove):
        risky.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(2), backoff_rate=2)
        # The handlers' own transient errors (AWS throttling or unreachable after botocore's retries):
        # every task is safe to repeat (restore and fresh snapshots recognise their own resources).
        risky.add_retry(errors=list(TRANSIENT_ERROR_NAMES), max_attempts=3, interval=Duration.seconds(5),
                        backoff_rate=2)
        risky.add_catch(cleanup, errors=["States.ALL"], result_path="$.error")
    cleanup.add_retry(errors=["States.ALL"], max_attempts=3, interval=Duration.seconds(5), backoff_rate=2)
    cleanup.add_catch(report, errors=["States.ALL"], result_path="$.cleanup_error")
    report.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(2), backoff_rate=2)
    report.add_catch(failed, errors=["States.ALL"], result_path="$.report_error")

    plan.next(recovery_point_ready)
    recovery_point_ready.when(sfn.Condition.boolean_equals("$.plan.wait.ready", True), restore)
    recovery_point_ready.otherwise(wait_for_snapshot)
    wait_for_snapshot.next(poll_snapshot)
    poll_snapshot.next(recovery_point_ready)

    restore.next(instance_available)  # like the snapshot path: no wait when already available
    wait_for_instance.next(poll_instance)
    poll_instance.next(instance_available)
    instance_available.when(sfn.Condition.boolean_equals("$.restore.wait.ready", True), validate)
    instance_available.otherwise(wait_for_instance)

    validate.next(measure)
    measure.next(prove)
    prove.next(cleanup)
    cleanup.next(report)
    report.next(drill_passed)
    drill_passed.when(sfn.Condition.boolean_equals("$.report.passed", True), succeeded)
    drill_passed.otherwise(failed)
    return plan


def create_drill_state_machine(stack: Stack, *, state_machine_name: str, functions: Mapping[str, lambda_.IFunction],
                               key: kms.Key) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """The state machine and its KMS-encrypted log group (``key`` is the drill stack's CMK)."""
    return logged_state_machine(
        stack, state_machine_name=state_machine_name, definition=_definition(stack, functions), key=key,
        timeout=Duration.hours(DRILL_STATE_MACHINE_TIMEOUT_HOURS),
        key_policy_sid="AllowCloudWatchLogsForTheDrillLogGroup",
        comment="ChurnGuard Ops restore drill: plan, restore, poll, validate, measure, prove indexes, "
                "ALWAYS clean up, report",
        task_functions=[functions[k] for k in TASK_FUNCTIONS])
