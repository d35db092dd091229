"""The canary release state machine: validate, smoke-test, then shift / bake / judge step by step.

Every task returns the whole release state with ``$.action`` naming what comes next, and one Choice
(``Next?``) routes on it, so the order of steps lives in the domain and is tested there. Any failure
after validation rolls back. A human approval (before 100 %) runs in a Parallel state whose second
branch keeps judging the current step: a breach while waiting rolls back, and the approval itself
ends the wait by failing its branch with ``Approved`` (the standard way out of a Parallel).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from churnguard_ops.core.contracts import (
    CANARY_APPROVED_ERROR,
    CANARY_BREACH_WHILE_WAITING_ERROR,
    FLAGS_DEPLOYMENT_BUSY_ERROR,
    TRANSIENT_ERROR_NAMES,
)
from infra_cdk.constructs.state_machine import logged_state_machine
from infra_cdk.stacks.drill_spec import LAMBDA_TRANSIENT_ERRORS

# State names: opsctl and the tests refer to them (contract).
STATE_VALIDATE = "Validate"
STATE_SMOKE = "SmokeTest"
STATE_NEXT = "Next?"
STATE_SHIFT = "ShiftTraffic"
STATE_BAKE = "Bake"
STATE_EVALUATE = "Evaluate"
STATE_APPROVAL_GATE = "ApprovalGate"
STATE_AWAIT_APPROVAL = "AwaitApproval"
STATE_APPROVED = "ApprovalReceived"
STATE_WATCH_SHIFTED = "TrafficShifted?"
STATE_WATCH_WAIT = "WatchWait"
STATE_WATCH = "WatchWhileWaiting"
STATE_WATCH_VERDICT = "StillHealthy?"
STATE_WATCH_BREACH = "BreachWhileWaiting"
STATE_NOTHING_TO_WATCH = "NothingToWatch"
STATE_APPROVE = "RecordApproval"
STATE_AWAIT_OPERATOR = "AwaitOperator"
STATE_RESUME = "Resume"
STATE_PROMOTE = "Promote"
STATE_ROLLBACK = "Rollback"
STATE_PROMOTED = "Promoted"
STATE_ROLLED_BACK = "RolledBack"
STATE_ABORTED = "Aborted"
STATE_REFUSED = "Refused"
STATE_ROLLBACK_FAILED = "RollbackFailed"
STATE_UNKNOWN_ACTION = "UnknownAction"
STATE_APPROVAL_TIMED_OUT = "ApprovalTimedOut"
STATE_WATCH_FAILED = "JudgingFailed"
STATE_EXPLAIN_REFUSAL = "ExplainRefusal"
STATE_REFUSED_ON_ERROR = "RefusedOnError"
STATE_APPROVED_BY = "ApprovedBy?"
STATE_APPROVED_ANONYMOUSLY = "ApprovalReceivedFromUnknown"
#: The errors Validate raises to refuse a request (churnguard_ops.canary.errors).
REFUSAL_ERRORS = ("ValidationFailed", "AlarmAlreadyFiring", "ReleaseInProgress")

#: Error names of the Fail states (an execution's ``error``): what a pipeline or alarm matches on.
ERROR_ROLLED_BACK = "ReleaseRolledBack"
ERROR_ABORTED = "ReleaseAborted"
ERROR_REFUSED = "ReleaseRefused"
ERROR_ROLLBACK_FAILED = "RollbackFailed"
ERROR_APPROVAL_TIMED_OUT = "ApprovalTimedOut"
ERROR_WATCH_FAILED = "JudgingWhileWaitingFailed"


def _release_task(stack: Stack, name: str, function: lambda_.IFunction, task: str,
                  **extra: str) -> tasks.LambdaInvoke:
    """One release task: the whole state in, the whole state out (ResultPath $)."""
    payload = {"task": task, "state": sfn.JsonPath.entire_payload,
               **{key: sfn.JsonPath.string_at(path) for key, path in extra.items()}}
    invoke = tasks.LambdaInvoke(
        stack, name, state_name=name, lambda_function=function, payload=sfn.TaskInput.from_object(payload),
        payload_response_only=True, result_path="$", retry_on_service_exceptions=False)
    invoke.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(2), backoff_rate=2)
    # AWS throttled or unreachable after botocore's own retries: every task is safe to repeat.
    invoke.add_retry(errors=list(TRANSIENT_ERROR_NAMES), max_attempts=3, interval=Duration.seconds(5), backoff_rate=2)
    # A flag's environment is deploying (one deployment at a time) or another release is writing it: queue.
    invoke.add_retry(errors=[FLAGS_DEPLOYMENT_BUSY_ERROR], max_attempts=8, interval=Duration.seconds(5),
                     backoff_rate=1.5)
    return invoke


def _await_human(stack: Stack, name: str, function: lambda_.IFunction, kind: str,
                 timeout_path: str, result_path: str) -> tasks.LambdaInvoke:
    """Notify, then wait for ``opsctl canary approve|reject`` to answer the task token."""
    invoke = tasks.LambdaInvoke(
        stack, name, state_name=name, lambda_function=function,
        integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload=sfn.TaskInput.from_object({
            "kind": kind, "token": sfn.JsonPath.task_token,
            "execution_id": sfn.JsonPath.string_at("$$.Execution.Id"),
            "release_id": sfn.JsonPath.string_at("$.release_id"),
            # What is released (an alias or a flag), as validate described it: one path for both kinds.
            "target": sfn.JsonPath.object_at("$.target"),
            "weight": sfn.JsonPath.number_at("$.weight"),
            "timeout_seconds": sfn.JsonPath.number_at(timeout_path),
            "reason": sfn.JsonPath.string_at("$.reason") if kind == "hold" else None,
        }),
        task_timeout=sfn.Timeout.at(timeout_path), result_path=result_path, retry_on_service_exceptions=False)
    # A throttled announcement must not roll back a healthy release; a retry asks again with a new token.
    invoke.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, max_attempts=3, interval=Duration.seconds(2), backoff_rate=2)
    invoke.add_retry(errors=list(TRANSIENT_ERROR_NAMES), max_attempts=3, interval=Duration.seconds(5), backoff_rate=2)
    return invoke


def _definition(stack: Stack, release: lambda_.IFunction, decide: lambda_.IFunction) -> sfn.IChainable:
    validate = _release_task(stack, STATE_VALIDATE, release, "validate", execution_id="$$.Execution.Id")
    smoke = _release_task(stack, STATE_SMOKE, release, "smoke")
    shift = _release_task(stack, STATE_SHIFT, release, "shift")
    evaluate = _release_task(stack, STATE_EVALUATE, release, "evaluate")
    approve = _release_task(stack, STATE_APPROVE, release, "approve", approved_by="$.approval.Cause")
    resume = _release_task(stack, STATE_RESUME, release, "resume")
    promote = _release_task(stack, STATE_PROMOTE, release, "promote")
    rollback = _release_task(stack, STATE_ROLLBACK, release, "rollback")
    rollback.add_retry(errors=["States.ALL"], max_attempts=4, interval=Duration.seconds(3), backoff_rate=2)

    bake = sfn.Wait(stack, STATE_BAKE, state_name=STATE_BAKE, time=sfn.WaitTime.seconds_path("$.wait_seconds"))
    promoted = sfn.Succeed(stack, STATE_PROMOTED, state_name=STATE_PROMOTED)
    rolled_back = sfn.Fail(stack, STATE_ROLLED_BACK, state_name=STATE_ROLLED_BACK, error=ERROR_ROLLED_BACK,
                           cause_path="$.summary")
    aborted = sfn.Fail(stack, STATE_ABORTED, state_name=STATE_ABORTED, error=ERROR_ABORTED,
                       cause_path="$.reason")
    refused = sfn.Fail(stack, STATE_REFUSED, state_name=STATE_REFUSED, error=ERROR_REFUSED,
                       cause_path="$.refusal.errorMessage")
    # Lambda's Cause is JSON ({errorMessage, errorType, stackTrace}): the execution's cause is the message alone.
    explain_refusal = sfn.Pass(stack, STATE_EXPLAIN_REFUSAL, state_name=STATE_EXPLAIN_REFUSAL,
                               parameters={"refusal": sfn.JsonPath.string_to_json(
                                   sfn.JsonPath.string_at("$.error.Cause"))})
    explain_refusal.next(refused)
    rollback_failed = sfn.Fail(stack, STATE_ROLLBACK_FAILED, state_name=STATE_ROLLBACK_FAILED,
                               error=ERROR_ROLLBACK_FAILED, cause_path="$.rollback_error.Cause")
    unknown = sfn.Fail(stack, STATE_UNKNOWN_ACTION, state_name=STATE_UNKNOWN_ACTION, error="UnknownAction",
                       cause="a task returned an action this state machine does not know")

    # --- approval: wait for the human while the second branch keeps judging the current step -------
    await_approval = _await_human(stack, STATE_AWAIT_APPROVAL, decide, "approval",
                                  "$.request.approval.timeout_seconds", "$.approval")
    approval_received = sfn.Fail(stack, STATE_APPROVED, state_name=STATE_APPROVED, error=CANARY_APPROVED_ERROR,
                                 cause_path="$.approval.approved_by")
    # An answer without approved_by (a pipeline's bare SendTaskSuccess) still approves, as "unknown".
    approved_by_whom = sfn.Choice(stack, STATE_APPROVED_BY, state_name=STATE_APPROVED_BY)
    approved_by_whom.when(sfn.Condition.and_(sfn.Condition.is_present("$.approval.approved_by"),
                                             sfn.Condition.is_string("$.approval.approved_by")), approval_received)
    approved_by_whom.otherwise(sfn.Fail(stack, STATE_APPROVED_ANONYMOUSLY, state_name=STATE_APPROVED_ANONYMOUSLY,
                                        error=CANARY_APPROVED_ERROR, cause="unknown"))
    await_approval.next(approved_by_whom)
    # A branch's failure leaves the Parallel under its own error name: give the timeout one that says what
    # happened (and that any Catch may match: States.* names do not survive a branch everywhere).
    await_approval.add_catch(sfn.Fail(stack, STATE_APPROVAL_TIMED_OUT, state_name=STATE_APPROVAL_TIMED_OUT,
                                      error=ERROR_APPROVAL_TIMED_OUT,
                                      cause="no approval within request.approval.timeout_seconds"),
                             errors=["States.Timeout"], result_path="$.approval")

    watch = _release_task(stack, STATE_WATCH, release, "evaluate")
    watch_wait = sfn.Wait(stack, STATE_WATCH_WAIT, state_name=STATE_WATCH_WAIT,
                          time=sfn.WaitTime.seconds_path("$.request.evaluation_interval_seconds"))
    breach = sfn.Fail(stack, STATE_WATCH_BREACH, state_name=STATE_WATCH_BREACH,
                      error=CANARY_BREACH_WHILE_WAITING_ERROR, cause_path="$.reason")
    still_healthy = sfn.Choice(stack, STATE_WATCH_VERDICT, state_name=STATE_WATCH_VERDICT)
    still_healthy.when(sfn.Condition.or_(*(sfn.Condition.string_equals("$.action", a)
                                           for a in ("rollback", "hold", "aborted"))), breach)
    still_healthy.otherwise(watch_wait)
    watch_wait.next(watch)
    watch.next(still_healthy)
    watch.add_catch(sfn.Fail(stack, STATE_WATCH_FAILED, state_name=STATE_WATCH_FAILED, error=ERROR_WATCH_FAILED,
                             cause_path="$.watch_error.Cause"),
                    errors=["States.ALL"], result_path="$.watch_error")
    shifted = sfn.Choice(stack, STATE_WATCH_SHIFTED, state_name=STATE_WATCH_SHIFTED)
    # Blue-green ([100]) asks before any traffic moved: there is nothing to judge yet.
    shifted.when(sfn.Condition.number_greater_than_equals("$.step_index", 0), watch_wait)
    shifted.otherwise(sfn.Succeed(stack, STATE_NOTHING_TO_WATCH, state_name=STATE_NOTHING_TO_WATCH))

    approval_gate = sfn.Parallel(stack, STATE_APPROVAL_GATE, state_name=STATE_APPROVAL_GATE,
                                 result_path=sfn.JsonPath.DISCARD)
    approval_gate.branch(await_approval)
    approval_gate.branch(shifted)
    approval_gate.add_catch(approve, errors=[CANARY_APPROVED_ERROR], result_path="$.approval")

    await_operator = _await_human(stack, STATE_AWAIT_OPERATOR, decide, "hold",
                                  "$.request.approval.timeout_seconds", sfn.JsonPath.DISCARD)
    await_operator.next(resume)

    # --- routing --------------------------------------------------------------------------------
    route = sfn.Choice(stack, STATE_NEXT, state_name=STATE_NEXT)
    route.when(sfn.Condition.string_equals("$.action", "smoke"), smoke)
    route.when(sfn.Condition.string_equals("$.action", "advance"), shift)
    route.when(sfn.Condition.string_equals("$.action", "bake"), bake)
    route.when(sfn.Condition.string_equals("$.action", "approve"), approval_gate)
    route.when(sfn.Condition.string_equals("$.action", "hold"), await_operator)
    route.when(sfn.Condition.string_equals("$.action", "promote"), promote)
    route.when(sfn.Condition.string_equals("$.action", "rollback"), rollback)
    route.when(sfn.Condition.string_equals("$.action", "aborted"), aborted)
    route.when(sfn.Condition.and_(sfn.Condition.string_equals("$.action", "done"),
                                  sfn.Condition.string_equals("$.outcome", "promoted")), promoted)
    route.when(sfn.Condition.string_equals("$.action", "done"), rolled_back)
    route.otherwise(unknown)

    for step in (smoke, shift, evaluate, approve, resume, promote):
        step.next(route)
        # After validation the release holds the alias: any failure rolls it back.
        step.add_catch(rollback, errors=["States.ALL"], result_path="$.error")
    for waiting in (approval_gate, await_operator):  # rejected, timed out, or a breach while waiting
        waiting.add_catch(rollback, errors=["States.ALL"], result_path="$.error")
    # The release's own refusals carry Lambda's JSON cause; anything else (a Lambda service error) as it came.
    validate.add_catch(explain_refusal, errors=list(REFUSAL_ERRORS), result_path="$.error")
    validate.add_catch(sfn.Fail(stack, STATE_REFUSED_ON_ERROR, state_name=STATE_REFUSED_ON_ERROR,
                                error=ERROR_REFUSED, cause_path="$.error.Cause"),
                       errors=["States.ALL"], result_path="$.error")
    validate.next(route)
    bake.next(evaluate)
    rollback.add_catch(rollback_failed, errors=["States.ALL"], result_path="$.rollback_error")
    rollback.next(route)
    return validate


def create_canary_state_machine(stack: Stack, *, state_machine_name: str, release: lambda_.IFunction,
                                decide: lambda_.IFunction, key: kms.Key,
                                timeout: Duration) -> tuple[sfn.StateMachine, logs.LogGroup]:
    return logged_state_machine(
        stack, state_machine_name=state_machine_name, definition=_definition(stack, release, decide), key=key,
        timeout=timeout, key_policy_sid="AllowCloudWatchLogsForTheReleaseLogGroup", task_functions=[release, decide],
        comment="ChurnGuard Ops canary release: validate, smoke-test, shift/bake/judge per step, promote or roll back")
