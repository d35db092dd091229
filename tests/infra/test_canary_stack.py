"""Wiring of the canary stack (ChurnGuardOpsCanary): release workflow, task Lambdas, alarm abort, lock, IAM, alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from churnguard_ops.core.contracts import (
    CANARY_ACTIONS,
    CANARY_APPROVED_ERROR,
    CANARY_DECISIONS_PREFIX,
    TRANSIENT_ERROR_NAMES,
)

from .infra_helpers import as_list, flat, of_type, only, policy_statements, state_machine_definition

pytestmark = pytest.mark.infra

PREFIX = "churnguard-ops"
STATE_MACHINE_NAME = f"{PREFIX}-canary-release"
HANDLERS = {"release": "app.release", "decide": "app.await_decision", "abort": "app.abort"}
LAMBDA_TRANSIENT = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException"]
# The release tasks after Validate: each calls the release function and hands the whole state to "Next?".
TASKS_AFTER_VALIDATE = {  # state -> task name in the payload
    "SmokeTest": "smoke", "ShiftTraffic": "shift", "Evaluate": "evaluate", "RecordApproval": "approve",
    "Resume": "resume", "Promote": "promote",
}
WAITING_FOR_A_HUMAN = ("ApprovalGate", "AwaitOperator")
CONTRACT_STATES = {
    "Validate", "SmokeTest", "Next?", "ShiftTraffic", "Bake", "Evaluate", "ApprovalGate", "AwaitOperator",
    "Promote", "Rollback", "Promoted", "RolledBack", "Aborted", "Refused", "RollbackFailed",
}
FAIL_STATES = {  # Fail state -> the execution's error (what a pipeline or alarm matches on)
    "RolledBack": "ReleaseRolledBack", "Aborted": "ReleaseAborted", "Refused": "ReleaseRefused",
    "RollbackFailed": "RollbackFailed",
}
# Actions whose Choice branch is not a plain StringEquals -> state ("done" also looks at $.outcome).
ACTION_TARGETS = {
    "smoke": "SmokeTest", "advance": "ShiftTraffic", "bake": "Bake", "approve": "ApprovalGate",
    "hold": "AwaitOperator", "promote": "Promote", "rollback": "Rollback", "aborted": "Aborted",
}
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
CANARY_ENV = {"CANARY_FUNCTIONS", "CANARY_LOCK_TABLE", "CANARY_DECISIONS_BUCKET", "CANARY_TOPIC_ARN"}
#: Set when the CDK app hands the canary stack the flags' AppConfig ids (flag releases).
FLAGS_ENV = {"CANARY_FLAGS_APPLICATION_ID", "CANARY_FLAGS_PROFILE_ID", "CANARY_FLAGS_STRATEGY_ID",
             "CANARY_FLAGS_ENVIRONMENTS", "CANARY_FLAGS_PROPAGATION_SECONDS"}
#: What the release and abort roles hold besides their alias actions once flag releases are configured.
FLAG_SHIFTER_ACTIONS = {"appconfig:ListHostedConfigurationVersions", "appconfig:GetHostedConfigurationVersion",
                        "appconfig:CreateHostedConfigurationVersion", "appconfig:StartDeployment",
                        "appconfig:ListDeployments", "appconfig:GetDeployment"}
# Actions that support no resource-level permissions: the only ones a canary role may hold on "*".
UNSCOPABLE = {"cloudwatch:GetMetricData", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _configured_functions() -> list[str]:
    from infra_cdk.app import cdk_json_context

    return list(cdk_json_context()["churnguard"]["canary"]["functions"])


def _function_arns(*, qualified: bool) -> list[str]:
    arns = [f"arn:<AWS::Partition>:lambda:us-east-1:<AWS::AccountId>:function:{name}"
            for name in _configured_functions()]
    return [f"{arn}:*" for arn in arns] if qualified else arns


# --- fixtures / helpers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def functions(canary_resources) -> dict[str, tuple[str, dict[str, Any]]]:
    """function name suffix (release, decide, abort) -> (logical id, properties)."""
    found = {}
    for logical_id, res in of_type(canary_resources, "AWS::Lambda::Function").items():
        name = res["Properties"]["FunctionName"]
        assert name.startswith(f"{PREFIX}-canary-"), name
        found[name.removeprefix(f"{PREFIX}-canary-")] = (logical_id, res["Properties"])
    assert {k: props["Handler"] for k, (_, props) in found.items()} == HANDLERS
    return found


@pytest.fixture(scope="module")
def state_machine(canary_resources) -> tuple[str, dict[str, Any]]:
    return only(canary_resources, "AWS::StepFunctions::StateMachine")


@pytest.fixture(scope="module")
def definition(state_machine) -> dict[str, Any]:
    return state_machine_definition(state_machine[1]["Properties"]["DefinitionString"])


@pytest.fixture(scope="module")
def states(definition) -> dict[str, dict[str, Any]]:
    return definition["States"]


@pytest.fixture(scope="module")
def branches(states) -> dict[str, dict[str, Any]]:
    """The ApprovalGate's branches by their first state."""
    return {b["StartAt"]: b for b in states["ApprovalGate"]["Branches"]}


def _role_id(functions, key: str) -> str:
    return functions[key][1]["Role"]["Fn::GetAtt"][0]


def _statements(resources, functions, key: str) -> list[dict[str, Any]]:
    return list(policy_statements(resources, _role_id(functions, key)))


def _with_prefix(statements: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements if any(a.startswith(prefix) for a in as_list(s["Action"]))]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in as_list(s["Action"])}


def _resources_of(statements: list[dict[str, Any]]) -> list[str]:
    return sorted({flat(r) for s in statements for r in as_list(s["Resource"])})


def _is_foundation_output(value: Any, output_prefix: str) -> bool:
    return isinstance(value, dict) and "Fn::GetStackOutput" in value and \
        value["Fn::GetStackOutput"]["OutputName"].startswith(output_prefix)


def _alarms(resources) -> dict[str, dict[str, Any]]:
    return {a["Properties"]["AlarmName"]: a["Properties"]
            for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}


def _rules(resources) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()}


def _next_states(state: dict[str, Any]) -> list[str]:
    nxt = [state["Next"]] if "Next" in state else []
    nxt += [c["Next"] for c in state.get("Choices", [])]
    nxt += [state["Default"]] if "Default" in state else []
    nxt += [c["Next"] for c in state.get("Catch", [])]
    return nxt


def _reachable(states: dict[str, dict[str, Any]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += _next_states(states[name])
    return seen


# --- state machine ----------------------------------------------------------------------------

def test_state_machine_is_standard_logs_all_execution_data_and_is_traced(canary_resources, state_machine):
    _, sm = state_machine
    props = sm["Properties"]
    assert props["StateMachineName"] == STATE_MACHINE_NAME
    assert props["StateMachineType"] == "STANDARD"  # a release bakes for hours and waits on humans
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", True)
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = canary_resources[log_group_id]["Properties"]
    assert log_group["LogGroupName"] == f"/aws/vendedlogs/states/{STATE_MACHINE_NAME}"
    key_id, _ = only(canary_resources, "AWS::KMS::Key")
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}  # execution data holds the release state


def test_state_machine_has_the_contract_states_and_ends_only_in_the_contract_outcomes(definition, states, branches):
    assert definition["StartAt"] == "Validate"
    assert CONTRACT_STATES <= set(states)
    assert states["Promoted"] == {"Type": "Succeed"}
    for name, error in FAIL_STATES.items():
        assert (states[name]["Type"], states[name]["Error"]) == ("Fail", error), name
    gate = states["ApprovalGate"]
    assert gate["Type"] == "Parallel"
    assert set(branches) == {"AwaitApproval", "TrafficShifted?"}
    assert "WatchWhileWaiting" in branches["TrafficShifted?"]["States"]
    await_approval = branches["AwaitApproval"]["States"]["AwaitApproval"]
    assert await_approval["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert await_approval["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert await_approval["Parameters"]["FunctionName"].startswith("arn:DecisionRequestFunction")
    operator = states["AwaitOperator"]
    assert operator["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert operator["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    # A release never ends through a state that does not say how it ended (no bare End on a Task/Pass).
    for name, state in states.items():
        if state["Type"] in ("Task", "Pass", "Wait", "Choice"):
            assert not state.get("End"), name
    # The gate itself has End (CDK's default for a Parallel that leaves only by Catch): harmless only because
    # the approval branch never succeeds, so the Parallel never completes normally.
    approval_states = branches["AwaitApproval"]["States"]
    assert {s["Type"] for s in approval_states.values() if "Next" not in s and s["Type"] != "Choice"} == {"Fail"}
    assert all(s.get("Default") for s in approval_states.values() if s["Type"] == "Choice")


def test_every_task_after_validate_catches_everything_into_rollback(states):
    for name, task in TASKS_AFTER_VALIDATE.items():
        state = states[name]
        assert state["Type"] == "Task", name
        assert state["Parameters"]["task"] == task, name
        assert state["Parameters"]["state.$"] == "$", name
        assert state["ResultPath"] == "$" and state["Next"] == "Next?", name
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rollback"}], name
    for name in WAITING_FOR_A_HUMAN:  # rejected, timed out, a breach or failure while waiting
        assert states[name]["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                             "Next": "Rollback"}, name
    # An approval leaves the Parallel as its own error first, into RecordApproval, never into Rollback.
    assert states["ApprovalGate"]["Catch"][0] == {"ErrorEquals": [CANARY_APPROVED_ERROR], "ResultPath": "$.approval",
                                                  "Next": "RecordApproval"}
    # Rollback itself: retried, then a failure of its own is a distinct outcome.
    assert states["Rollback"]["Parameters"]["task"] == "rollback"
    assert states["Rollback"]["Next"] == "Next?"
    assert states["Rollback"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.rollback_error",
                                            "Next": "RollbackFailed"}]
    assert states["Rollback"]["Retry"][-1]["ErrorEquals"] == ["States.ALL"]


def test_a_refused_validation_ends_refused_without_rolling_back(states):
    validate = states["Validate"]
    assert validate["Parameters"]["task"] == "validate"
    assert validate["Parameters"]["execution_id.$"] == "$$.Execution.Id"  # the lock names the execution
    own, other = validate["Catch"]
    # The release's refusals (Lambda's JSON cause) are explained; any other error ends refused as it came.
    assert own["ErrorEquals"] == ["ValidationFailed", "AlarmAlreadyFiring", "ReleaseInProgress"]
    assert other["ErrorEquals"] == ["States.ALL"]
    for catch in (own, other):
        assert catch["ResultPath"] == "$.error"
        # Nothing moved yet: the refusal path never reaches Rollback.
        refusal = _reachable(states, catch["Next"])
        assert "Rollback" not in refusal
        assert {states[n]["Type"] for n in refusal} <= {"Pass", "Fail"}
        assert {states[n]["Error"] for n in refusal if states[n]["Type"] == "Fail"} == {"ReleaseRefused"}
    assert states[own["Next"]]["Type"] == "Pass" and "Refused" in _reachable(states, own["Next"])
    assert states[other["Next"]]["CausePath"] == "$.error.Cause"


def test_bake_waits_the_seconds_the_last_task_asked_for(states):
    assert states["Bake"] == {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "Evaluate"}


def test_next_routes_on_action_for_every_contract_action(states):
    route = states["Next?"]
    assert route["Type"] == "Choice"
    plain = {c["StringEquals"]: c["Next"] for c in route["Choices"]
             if c.get("Variable") == "$.action" and "StringEquals" in c}
    assert {a: plain[a] for a in ACTION_TARGETS} == ACTION_TARGETS
    # done: promoted -> Promoted, anything else -> RolledBack.
    (done_promoted,) = [c for c in route["Choices"] if "And" in c]
    assert sorted(done_promoted["And"], key=lambda c: c["Variable"]) == [
        {"Variable": "$.action", "StringEquals": "done"}, {"Variable": "$.outcome", "StringEquals": "promoted"}]
    assert done_promoted["Next"] == "Promoted"
    assert plain["done"] == "RolledBack"
    assert route["Choices"].index(done_promoted) < [c.get("StringEquals") for c in route["Choices"]].index("done")
    assert set(plain) == set(CANARY_ACTIONS)  # no action unrouted, none the contract does not know
    assert states[route["Default"]]["Type"] == "Fail"  # an unknown action stops, it does not guess


def test_approval_times_out_after_the_requests_timeout_into_approval_timed_out(branches):
    states = branches["AwaitApproval"]["States"]
    await_approval = states["AwaitApproval"]
    assert await_approval["TimeoutSecondsPath"] == "$.request.approval.timeout_seconds"
    assert "TimeoutSeconds" not in await_approval
    assert await_approval["Parameters"]["Payload"]["timeout_seconds.$"] == "$.request.approval.timeout_seconds"
    (timeout,) = [c for c in await_approval["Catch"] if c["ErrorEquals"] == ["States.Timeout"]]
    timed_out = states[timeout["Next"]]
    assert timeout["Next"] == "ApprovalTimedOut"
    assert (timed_out["Type"], timed_out["Error"]) == ("Fail", "ApprovalTimedOut")
    # An answer ends the branch with the error the gate catches into RecordApproval, with or without approved_by.
    who = states[await_approval["Next"]]
    assert who["Type"] == "Choice"
    ends = [states[c["Next"]] for c in who["Choices"]] + [states[who["Default"]]]
    assert {(e["Type"], e["Error"]) for e in ends} == {("Fail", CANARY_APPROVED_ERROR)}
    assert [e.get("CausePath") for e in ends] == ["$.approval.approved_by", None]


def test_watch_while_waiting_keeps_judging_and_fails_the_gate_on_a_breach(branches):
    states = branches["TrafficShifted?"]["States"]
    watch = states["WatchWhileWaiting"]
    assert watch["Parameters"]["task"] == "evaluate"
    assert states["WatchWait"]["SecondsPath"] == "$.request.evaluation_interval_seconds"
    verdict = states[watch["Next"]]
    (breach,) = verdict["Choices"]
    assert {c["StringEquals"] for c in breach["Or"]} == {"rollback", "hold", "aborted"}
    assert states[breach["Next"]]["Type"] == "Fail"
    assert verdict["Default"] == "WatchWait"
    assert states[watch["Catch"][0]["Next"]]["Type"] == "Fail"  # judging itself failed: the gate rolls back


def _lambda_tasks(states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(_lambda_tasks(branch["States"]))
    return found


def test_release_tasks_retry_lambda_faults_and_the_transient_contract_errors(states):
    release_tasks = {n: s for n, s in _lambda_tasks(states).items() if s["Resource"].startswith("arn:ReleaseFunction")}
    assert set(release_tasks) == {"Validate", "Rollback", "WatchWhileWaiting", *TASKS_AFTER_VALIDATE}
    for name, state in release_tasks.items():
        assert state["Retry"][:2] == [
            {"ErrorEquals": LAMBDA_TRANSIENT, "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2},
            {"ErrorEquals": list(TRANSIENT_ERROR_NAMES), "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2},
        ], name


def test_tasks_that_wait_for_a_human_retry_transient_errors_before_rolling_back(states):
    waiting = {n: s for n, s in _lambda_tasks(states).items() if s["Resource"].endswith(".waitForTaskToken")}
    assert set(waiting) == {"AwaitApproval", "AwaitOperator"}
    for name, state in waiting.items():
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert set(TRANSIENT_ERROR_NAMES) <= retried, name
        assert set(LAMBDA_TRANSIENT) <= retried, name


def test_state_machine_role_invokes_only_the_release_and_decide_functions(canary_resources, state_machine, functions):
    role_id = state_machine[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoke = [s for s in policy_statements(canary_resources, role_id)
              if "lambda:InvokeFunction" in as_list(s["Action"])]
    invoked = {flat(r).split(".Arn>")[0].lstrip("<") for s in invoke for r in as_list(s["Resource"])}
    assert invoked == {functions["release"][0], functions["decide"][0]}


# --- IAM --------------------------------------------------------------------------------------

def test_no_canary_role_has_managed_policies(canary_resources, functions, state_machine):
    roles = {_role_id(functions, k) for k in functions} | {state_machine[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]}
    assert len(roles) == len(functions) + 1  # one role per function
    for role_id in roles:
        assert "ManagedPolicyArns" not in canary_resources[role_id]["Properties"], role_id


@pytest.fixture(scope="module")
def flags_wired(synth) -> bool:
    """Whether the app handed the canary stack a FlagsTarget (then flag releases are granted)."""
    return synth.canary.flags is not None


def test_each_role_holds_exactly_the_actions_its_tasks_call(canary_resources, functions, flags_wired):
    common = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    expected = {
        "release": {"lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetFunctionConfiguration", "lambda:InvokeFunction",
                    "cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms", "dynamodb:GetItem", "dynamodb:PutItem",
                    "dynamodb:UpdateItem", "dynamodb:DeleteItem", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
                    "kms:DescribeKey", "s3:PutObject", "events:PutEvents"},
        "decide": {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt", "events:PutEvents"},
        "abort": {"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "kms:Encrypt",
                  "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "lambda:GetAlias", "lambda:UpdateAlias",
                  "states:StopExecution", "events:PutEvents",
                  "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},  # its async-failure DLQ
    }
    if flags_wired:
        expected["release"] |= FLAG_SHIFTER_ACTIONS
        expected["abort"] |= FLAG_SHIFTER_ACTIONS | {"dynamodb:PutItem"}  # the flag write lock
    for key in functions:
        statements = _statements(canary_resources, functions, key)
        assert all(s["Effect"] == "Allow" for s in statements), key
        assert _actions(statements) - common == expected[key], key


def test_only_unscopable_actions_are_granted_on_star(canary_resources, functions):
    for key in functions:
        for statement in _statements(canary_resources, functions, key):
            if "*" in as_list(statement["Resource"]):
                assert set(as_list(statement["Action"])) <= UNSCOPABLE, (key, statement)


def test_release_role_moves_aliases_and_invokes_versions_of_the_configured_functions_only(canary_resources,
                                                                                        functions):
    statements = _statements(canary_resources, functions, "release")
    lambda_statements = _with_prefix(statements, "lambda:")
    assert _actions(lambda_statements) == {"lambda:GetAlias", "lambda:UpdateAlias", "lambda:InvokeFunction",
                                           "lambda:GetFunctionConfiguration"}
    configured = set(_function_arns(qualified=False)) | set(_function_arns(qualified=True))
    assert set(_resources_of(lambda_statements)) <= configured
    # Invoking: versions only, never the unqualified function ($LATEST). Alias actions are authorized on the
    # function's ARN, so both forms are granted for them.
    found = [s for s in lambda_statements if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert _resources_of(found) == sorted(_function_arns(qualified=True))
    for action in ("lambda:GetAlias", "lambda:UpdateAlias"):
        found = [s for s in lambda_statements if action in as_list(s["Action"])]
        assert _resources_of(found) == sorted(configured), action


def test_release_role_reads_metrics_on_star_and_alarms_by_arn(canary_resources, functions):
    statements = _statements(canary_resources, functions, "release")
    cloudwatch = _with_prefix(statements, "cloudwatch:")
    assert _actions(cloudwatch) == {"cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms"}
    (metrics,) = [s for s in cloudwatch if "cloudwatch:GetMetricData" in as_list(s["Action"])]
    assert (as_list(metrics["Action"]), metrics["Resource"]) == (["cloudwatch:GetMetricData"], "*")
    (alarms,) = [s for s in cloudwatch if "cloudwatch:DescribeAlarms" in as_list(s["Action"])]
    assert _resources_of([alarms]) == ["arn:<AWS::Partition>:cloudwatch:us-east-1:<AWS::AccountId>:alarm:*"]


def test_release_and_abort_roles_use_dynamodb_only_on_the_lock_table(canary_resources, functions):
    table_id, _ = only(canary_resources, "AWS::DynamoDB::Table")
    for key in ("release", "abort"):
        dynamo = _with_prefix(_statements(canary_resources, functions, key), "dynamodb:")
        assert dynamo, key
        assert [s["Resource"] for s in dynamo] == [{"Fn::GetAtt": [table_id, "Arn"]}], key
    release = _actions(_with_prefix(_statements(canary_resources, functions, "release"), "dynamodb:"))
    assert release == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    # The lock table's key: only through DynamoDB.
    key_id, _ = only(canary_resources, "AWS::KMS::Key")
    for key in ("release", "abort"):
        (table_key,) = [s for s in _with_prefix(_statements(canary_resources, functions, key), "kms:")
                        if s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}]
        assert table_key["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def test_release_role_writes_only_decision_records_in_the_ops_bucket(canary_resources, functions):
    for key in functions:
        s3 = _with_prefix(_statements(canary_resources, functions, key), "s3:")
        if key != "release":
            assert s3 == [], key
            continue
        (put,) = s3
        assert as_list(put["Action"]) == ["s3:PutObject"]
        (resource,) = as_list(put["Resource"])
        rendered = flat(resource)
        assert rendered.endswith(f"/{CANARY_DECISIONS_PREFIX}*")
        assert "BackupBucket" in rendered  # the foundation's ops bucket


def test_decide_role_only_publishes_to_the_ops_topic_and_the_default_bus(canary_resources, functions):
    statements = _statements(canary_resources, functions, "decide")
    granted = _actions(statements) - {"logs:CreateLogStream", "logs:PutLogEvents",
                                      "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert granted == {"sns:Publish", "events:PutEvents", "kms:GenerateDataKey", "kms:Decrypt"}
    (publish,) = _with_prefix(statements, "sns:")
    assert _is_foundation_output(publish["Resource"], "PublishOutputRefOpsTopic")
    (topic_key,) = _with_prefix(statements, "kms:")
    assert _is_foundation_output(topic_key["Resource"], "PublishOutputFnGetAttNotificationsKey")
    (put_events,) = _with_prefix(statements, "events:")
    assert _resources_of([put_events]) == ["arn:<AWS::Partition>:events:us-east-1:<AWS::AccountId>:event-bus/default"]
    for key in ("release", "abort"):
        assert _with_prefix(_statements(canary_resources, functions, key), "sns:") == [], key


def test_abort_role_stops_only_canary_executions_and_cannot_invoke_functions(canary_resources, functions):
    statements = _statements(canary_resources, functions, "abort")
    (stop,) = _with_prefix(statements, "states:")
    assert as_list(stop["Action"]) == ["states:StopExecution"]
    assert _resources_of([stop]) == [
        f"arn:<AWS::Partition>:states:us-east-1:<AWS::AccountId>:execution:{STATE_MACHINE_NAME}:*"]
    actions = _actions(statements)
    assert "lambda:InvokeFunction" not in actions
    assert {a for a in actions if a.startswith("lambda:")} == {"lambda:GetAlias", "lambda:UpdateAlias"}
    assert _resources_of(_with_prefix(statements, "lambda:")) == sorted(
        set(_function_arns(qualified=False)) | set(_function_arns(qualified=True)))
    for key in ("release", "decide"):  # only the abort path stops executions
        assert _with_prefix(_statements(canary_resources, functions, key), "states:") == [], key


# --- EventBridge ------------------------------------------------------------------------------

def _abort_target(rule: dict[str, Any], functions, canary_resources) -> dict[str, Any]:
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [functions["abort"][0], "Arn"]}
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert canary_resources[dlq_id]["Properties"]["QueueName"] == f"{PREFIX}-canary-abort-dlq"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    return target


def test_any_alarm_going_to_alarm_invokes_the_abort_function_with_dlq_and_retries(canary_resources, functions):
    rule = _rules(canary_resources)[f"{PREFIX}-canary-alarm-abort"]
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                                    "detail": {"state": {"value": ["ALARM"]}}}
    target = _abort_target(rule, functions, canary_resources)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600}
    assert "Input" not in target and "InputTransformer" not in target  # the handler parses the event as sent


def test_a_release_execution_ending_abnormally_invokes_the_abort_function(canary_resources, functions, state_machine):
    rule = _rules(canary_resources)[f"{PREFIX}-canary-release-ended"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": state_machine[0]}]
    _abort_target(rule, functions, canary_resources)


def test_abort_function_is_the_only_asynchronous_one(canary_resources, functions):
    configs = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
               for c in of_type(canary_resources, "AWS::Lambda::EventInvokeConfig").values()}
    assert set(configs) == {functions["abort"][0]}
    dlq_id = configs[functions["abort"][0]]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert canary_resources[dlq_id]["Properties"]["QueueName"] == f"{PREFIX}-canary-abort-dlq"
    permissions = [p["Properties"] for p in of_type(canary_resources, "AWS::Lambda::Permission").values()]
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}
    assert {p["FunctionName"]["Fn::GetAtt"][0] for p in permissions} == {functions["abort"][0]}


# --- lock table -------------------------------------------------------------------------------

def test_lock_table_is_keyed_by_lock_key_expires_by_ttl_with_customer_managed_kms_and_pitr(canary_resources,
                                                                                        functions):
    table_id, table = only(canary_resources, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["TableName"] == f"{PREFIX}-canary-releases"
    assert props["KeySchema"] == [{"AttributeName": "lock_key", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "lock_key", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_epoch", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    key_id, key = only(canary_resources, "AWS::KMS::Key")
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS",
                                         "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    assert key["Properties"]["EnableKeyRotation"] is True
    for k, (_, fn) in functions.items():
        assert fn["Environment"]["Variables"]["CANARY_LOCK_TABLE"] == {"Ref": table_id}, k


# --- alarms -----------------------------------------------------------------------------------

def test_failed_and_timed_out_releases_abort_errors_and_abort_dlq_alarm_the_ops_topic(canary_resources, state_machine,
                                                                                     functions):
    sm_id, _ = state_machine
    alarms = _alarms(canary_resources)
    for name, metric in ((f"{PREFIX}-canary-release-failed", "ExecutionsFailed"),
                         (f"{PREFIX}-canary-release-timed-out", "ExecutionsTimedOut")):
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/States", metric, 0), name
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": sm_id}}], name
    errors = alarms[f"{PREFIX}-canary-abort-errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/Lambda", "Errors", 0)
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": functions["abort"][0]}}]
    dlq = alarms[f"{PREFIX}-canary-abort-dlq"]
    assert (dlq["Namespace"], dlq["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    (queue_dimension,) = dlq["Dimensions"]
    dlq_id = queue_dimension["Value"]["Fn::GetAtt"][0]
    assert canary_resources[dlq_id]["Properties"]["QueueName"] == f"{PREFIX}-canary-abort-dlq"
    assert len(alarms) == 4
    for name, alarm in alarms.items():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", name
        (action,) = alarm["AlarmActions"]
        assert _is_foundation_output(action, "PublishOutputRefOpsTopic"), name


# --- functions --------------------------------------------------------------------------------

def test_function_environment_is_exactly_the_canary_contract(functions, flags_wired):
    for key, (_, props) in functions.items():
        env = props["Environment"]["Variables"]
        assert set(env) == POWERTOOLS_ENV | CANARY_ENV | (FLAGS_ENV if flags_wired else set()), key
        assert env["POWERTOOLS_SERVICE_NAME"] == "canary"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ChurnGuardOps"
        assert env["LOG_LEVEL"] == "INFO"
        assert json.loads(env["CANARY_FUNCTIONS"]) == _configured_functions()
        assert _is_foundation_output(env["CANARY_DECISIONS_BUCKET"], "PublishOutputRefBackupBucket"), key
        assert _is_foundation_output(env["CANARY_TOPIC_ARN"], "PublishOutputRefOpsTopic"), key
        # CANARY_LOCK_TABLE: see test_lock_table_is_keyed_by_lock_key_expires_by_ttl_...


def test_environment_names_are_what_the_canary_settings_read(functions):
    from churnguard_ops.canary.settings import CanarySettings

    read = {f"CANARY_{name.upper()}" for name in CanarySettings.model_fields}
    assert CANARY_ENV | FLAGS_ENV <= read
    required = {f"CANARY_{n.upper()}" for n, f in CanarySettings.model_fields.items() if f.is_required()}
    assert required <= CANARY_ENV


def test_every_canary_function_has_its_own_role_and_log_group_with_retention(canary_resources, functions):
    log_groups = {v["Properties"]["LogGroupName"]: v["Properties"]
                  for v in of_type(canary_resources, "AWS::Logs::LogGroup").values()}
    for key, (_, props) in functions.items():
        assert props["Architectures"] == ["arm64"], key
        assert props["TracingConfig"] == {"Mode": "Active"}, key
        assert log_groups[f"/aws/lambda/{PREFIX}-canary-{key}"]["RetentionInDays"] == 30, key


# --- flag releases (a FlagsTarget of literal ids: one extra synth of foundation + canary) -----------------

FLAGS = {"application_id": "app1234", "profile_id": "prof567", "deployment_strategy_id": "strat89",
         "environment_ids": {"production": "envprod", "staging": "envstag"}, "propagation_seconds": 46}
APPCONFIG = "arn:<AWS::Partition>:appconfig:us-east-1:123456789012"
FLAG_APP = f"{APPCONFIG}:application/app1234"
FLAG_PROFILE = f"{FLAG_APP}/configurationprofile/prof567"
FLAG_ENVS = [f"{FLAG_APP}/environment/envprod", f"{FLAG_APP}/environment/envstag"]


@pytest.fixture(scope="module")
def with_flags(tmp_path_factory: pytest.TempPathFactory, clean_cdk_env) -> tuple[Any, dict[str, Any]]:
    import aws_cdk as cdk

    from infra_cdk.flags_target import FlagsTarget
    from infra_cdk.nag import apply_nag
    from infra_cdk.paths import cdk_json_context
    from infra_cdk.settings import ChurnGuardContext
    from infra_cdk.stacks import CanaryStack, FoundationStack

    churnguard = json.loads(json.dumps(cdk_json_context()["churnguard"]))
    outdir = tmp_path_factory.mktemp("cdk.out.canary-flags")
    app = cdk.App(outdir=str(outdir), context={**cdk_json_context(), "aws:cdk:bundling-stacks": []})
    config = ChurnGuardContext.model_validate(churnguard)
    env = cdk.Environment(account="123456789012", region="us-east-1")
    foundation = FoundationStack(app, "Foundation", config=config, env=env)
    stack = CanaryStack(app, "Canary", config=config, foundation=foundation.foundation, env=env,
                        flags=FlagsTarget(**FLAGS))
    apply_nag(app)
    app.synth()
    return stack, json.loads((outdir / stack.template_file).read_text())["Resources"]


def _flag_functions(resources: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {res["Properties"]["FunctionName"].rsplit("-", 1)[-1]: (logical_id, res["Properties"])
            for logical_id, res in of_type(resources, "AWS::Lambda::Function").items()}


def _resolved(resource: Any) -> str:
    """An ARN built with Fn::Join of partition and literal ids, as text (``<AWS::Partition>`` for the Ref)."""
    if isinstance(resource, str):
        return resource
    parts = resource["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in parts)


def test_release_and_abort_hold_exactly_the_appconfig_grants_of_the_flags_resources(with_flags):
    _, resources = with_flags
    functions = _flag_functions(resources)
    expected = {
        "ListHostedConfigurationVersions": [FLAG_PROFILE],
        "GetHostedConfigurationVersion": [f"{FLAG_PROFILE}/hostedconfigurationversion/*"],
        "CreateHostedConfigurationVersion": [FLAG_PROFILE],
        "StartDeployment": sorted([FLAG_APP, FLAG_PROFILE, f"{APPCONFIG}:deploymentstrategy/strat89", *FLAG_ENVS]),
        "ListDeployments": FLAG_ENVS,
        "GetDeployment": [f"{env}/deployment/*" for env in FLAG_ENVS],
    }
    for key in ("release", "abort"):
        statements = list(policy_statements(resources, functions[key][1]["Role"]["Fn::GetAtt"][0]))
        granted = {action.removeprefix("appconfig:"): sorted(_resolved(r) for r in as_list(s["Resource"]))
                   for s in statements for action in as_list(s["Action"]) if action.startswith("appconfig:")}
        assert granted == expected, key
    decide = list(policy_statements(resources, functions["decide"][1]["Role"]["Fn::GetAtt"][0]))
    assert not any(a.startswith("appconfig:") for s in decide for a in as_list(s["Action"]))


def test_the_release_functions_read_the_flags_ids_from_their_environment(with_flags, monkeypatch):
    from churnguard_ops.canary.settings import CanarySettings

    _, resources = with_flags
    env = _flag_functions(resources)["release"][1]["Environment"]["Variables"]
    assert FLAGS_ENV <= set(env)
    for name in FLAGS_ENV:
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("CANARY_LOCK_TABLE", "locks")
    settings = CanarySettings()
    assert settings.flags_configured
    assert (settings.flags_application_id, settings.flags_profile_id, settings.flags_strategy_id,
            settings.flags_environments) == ("app1234", "prof567", "strat89", FLAGS["environment_ids"])
    assert settings.flags_propagation_seconds == 46  # a flag step bakes once every application has polled


def test_the_canary_stack_with_flags_has_no_unsuppressed_nag_errors(with_flags):
    from aws_cdk.assertions import Annotations, Match

    stack, _ = with_flags
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_a_busy_flag_environment_is_retried_with_backoff_by_every_release_task(definition):
    from churnguard_ops.core.contracts import FLAGS_DEPLOYMENT_BUSY_ERROR

    for name in ("ShiftTraffic", "Evaluate", "Promote", "Rollback"):
        (retry,) = [r for r in definition["States"][name]["Retry"] if r["ErrorEquals"] == [FLAGS_DEPLOYMENT_BUSY_ERROR]]
        assert retry["MaxAttempts"] >= 5 and retry["BackoffRate"] > 1, name


def test_a_human_is_asked_about_whatever_the_release_targets(definition):
    payload = definition["States"]["AwaitOperator"]["Parameters"]["Payload"]
    assert payload["target.$"] == "$.target"
    assert not {"function_name.$", "alias.$", "new_version.$"} & set(payload)
