"""Wiring of the restore-drill stack (ChurnGuardOpsDrill): workflow, task Lambdas, sweeper, IAM, alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import CONFIGURED_SECRET  # noqa: E402
from .infra_helpers import as_list, flat, of_type, only, policy_statements, state_machine_definition

pytestmark = pytest.mark.infra

PRIMARY, DR = "us-east-1", "us-west-2"
CONFIGURED = ["churnguard-prod", "churnguard-analytics"]  # backup.db_instance_ids in cdk.json

# Contract: function name suffix -> handler, and the state that calls it (with its ResultPath).
HANDLERS = {
    "plan": "app.plan", "poll": "app.poll", "restore": "app.restore", "validate": "app.validate",
    "measure": "app.measure", "prove": "app.prove_indexes", "cleanup": "app.cleanup", "report": "app.report",
    "sweeper": "app.sweep", "freshness": "app.freshness",
}
SCHEDULED = ("sweeper", "freshness")  # invoked by EventBridge rules, not by the state machine
# Plan, Cleanup and Report also get the execution from the context object (the drill id is derived from it).
WITH_EXECUTION = {"execution": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
                                "started_at.$": "$$.Execution.StartTime"}, "drill.$": "$"}
TASKS = {  # state -> (function suffix, ResultPath)
    "Plan": ("plan", "$.plan"),
    "PollSnapshot": ("poll", "$.plan.wait"),
    "Restore": ("restore", "$.restore"),
    "PollInstance": ("poll", "$.restore.wait"),
    "Validate": ("validate", "$.validation"),
    "MeasurePerformance": ("measure", "$.performance"),
    "ProveIndexes": ("prove", "$.index_proof"),
    "Cleanup": ("cleanup", "$.cleanup"),
    "Report": ("report", "$.report"),
}
STATE_NAMES = {
    *TASKS, "RecoveryPointReady?", "WaitForSnapshot", "WaitForInstance", "InstanceAvailable?",
    "DrillPassed?", "DrillSucceeded", "DrillFailed",
}
RISKY = ["Plan", "PollSnapshot", "Restore", "PollInstance", "Validate", "MeasurePerformance", "ProveIndexes"]
LAMBDA_TRANSIENT = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException"]
SCHEDULED_INPUT = {"mode": "latest", "poll_seconds": 60, "max_wait_seconds": 5400}


def _rds(region: str, kind: str, name: str) -> str:
    return f"arn:<AWS::Partition>:rds:{region}:<AWS::AccountId>:{kind}:{name}"


DRILL_INSTANCES = sorted(_rds(r, "db", "churnguard-ops-drill-*") for r in (PRIMARY, DR))
DRILL_SNAPSHOTS = sorted(_rds(r, "snapshot", "churnguard-ops-dr-test-*") for r in (PRIMARY, DR))
SOURCE_DBS = sorted(_rds(PRIMARY, "db", i) for i in CONFIGURED)


# --- fixtures / helpers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def resources(synth) -> dict[str, Any]:
    return synth.template_json(synth.drill)["Resources"]


@pytest.fixture(scope="module")
def functions(resources) -> dict[str, tuple[str, dict[str, Any]]]:
    """function name suffix -> (logical id, properties)."""
    found = {}
    for logical_id, res in of_type(resources, "AWS::Lambda::Function").items():
        name = res["Properties"]["FunctionName"]
        assert name.startswith("churnguard-ops-drill-"), name
        found[name.removeprefix("churnguard-ops-drill-")] = (logical_id, res["Properties"])
    return found


@pytest.fixture(scope="module")
def state_machine(resources) -> tuple[str, dict[str, Any]]:
    return only(resources, "AWS::StepFunctions::StateMachine")


@pytest.fixture(scope="module")
def definition(state_machine) -> dict[str, Any]:
    return state_machine_definition(state_machine[1]["Properties"]["DefinitionString"])


@pytest.fixture(scope="module")
def states(definition) -> dict[str, dict[str, Any]]:
    return definition["States"]


def _role_id(functions, key: str) -> str:
    return functions[key][1]["Role"]["Fn::GetAtt"][0]


def _statements(resources, functions, key: str) -> list[dict[str, Any]]:
    return list(policy_statements(resources, _role_id(functions, key)))


def _with_action(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in as_list(s["Action"])]


def _resources_of(statements: list[dict[str, Any]]) -> list[str]:
    return sorted(flat(r) for s in statements for r in as_list(s["Resource"]))


def _next_states(state: dict[str, Any]) -> list[str]:
    nxt = [state["Next"]] if "Next" in state else []
    nxt += [c["Next"] for c in state.get("Choices", [])]
    nxt += [state["Default"]] if "Default" in state else []
    nxt += [c["Next"] for c in state.get("Catch", [])]
    return nxt


def synth_drill_template(tmp_path: Path, drill_context: dict[str, Any], *, nag: bool = False) -> dict[str, Any]:
    """The drill template for other ``drill`` context values (no layer bundling; cdk-nag only if asked,
    and then an unsuppressed AwsSolutions error in the drill stack fails)."""
    from aws_cdk import Stack
    from aws_cdk.assertions import Annotations, Match

    from infra_cdk.app import DRILL_STACK_ID, build_app, cdk_json_context

    churnguard = {**cdk_json_context()["churnguard"], "drill": drill_context}
    app = build_app(outdir=tmp_path, region=PRIMARY,
                    context={"churnguard": churnguard, "aws:cdk:bundling-stacks": []}, nag=nag)
    assembly = app.synth()
    stack = Stack.of(app.node.find_child(DRILL_STACK_ID))
    if nag:
        errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert [f"{e.id}: {e.entry.data}" for e in errors] == []
    return assembly.get_stack_artifact(stack.artifact_id).template


# --- stack ------------------------------------------------------------------------------------

def test_drill_stack_runs_in_the_primary_region_next_to_the_backup_stack(synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    artifact = manifest["artifacts"]["ChurnGuardOpsDrill"]
    assert artifact["environment"].endswith(f"/{PRIMARY}")
    assert artifact["environment"] == manifest["artifacts"]["ChurnGuardOpsBackup"]["environment"]
    assert artifact["properties"]["stackName"] == "churnguard-ops-drill"
    # What it uses: the foundation (bucket, key, topic, layer) and the DR key alias; not the backup stack.
    assert {"ChurnGuardOpsFoundation", "ChurnGuardOpsBackupDr"} <= set(artifact["dependencies"])


def test_drill_stack_uses_the_foundation_bucket_key_topic_and_layer_by_reference(synth):
    template = synth.template_json(synth.drill)
    stacks = {ref["Fn::GetStackOutput"]["StackName"] for ref in _find_all(template, "Fn::GetStackOutput")}
    assert stacks == {"churnguard-ops-foundation"}
    outputs = {ref["Fn::GetStackOutput"]["OutputName"] for ref in _find_all(template, "Fn::GetStackOutput")}
    foundation_outputs = synth.template_json(synth.foundation)["Outputs"]
    assert outputs and outputs <= set(foundation_outputs)
    referenced = {flat(foundation_outputs[o]["Value"]) for o in outputs}
    assert {"<BackupBucket26B8E51C>", "<OpsTopic1B68409C>"} <= referenced
    assert any(r.startswith("<OpsLayer") for r in referenced)
    assert any(r.startswith("<BackupKey") and r.endswith(".Arn>") for r in referenced)


def _find_all(node: Any, key: str) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if key in node:
            found.append(node)
        for value in node.values():
            found += _find_all(value, key)
    elif isinstance(node, list):
        for value in node:
            found += _find_all(value, key)
    return found


# --- functions --------------------------------------------------------------------------------

def test_one_function_per_contract_handler_on_arm64_newest_python_with_shared_layer(functions):
    from aws_cdk import aws_lambda as lambda_

    from infra_cdk.layer import LAMBDA_RUNTIME

    assert {k: props["Handler"] for k, (_, props) in functions.items()} == HANDLERS
    for key, (_, props) in functions.items():
        assert props["Runtime"] == LAMBDA_RUNTIME.name == lambda_.Runtime.PYTHON_3_14.name, key
        assert props["Architectures"] == ["arm64"], key
        assert props["TracingConfig"] == {"Mode": "Active"}, key
        assert len(props["Layers"]) == 1 and "Fn::GetStackOutput" in props["Layers"][0], key
        assert props["Layers"][0]["Fn::GetStackOutput"]["OutputName"].startswith("PublishOutputRefOpsLayer")


def test_every_drill_function_has_its_own_role_and_log_group_with_retention(resources, functions):
    roles = [_role_id(functions, k) for k in functions]
    assert len(set(roles)) == len(roles)
    for role_id in roles:
        assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
    log_groups = {v["Properties"]["LogGroupName"]: v["Properties"]
                  for v in of_type(resources, "AWS::Logs::LogGroup").values()}
    for key, (_, props) in functions.items():
        group = log_groups[f"/aws/lambda/churnguard-ops-drill-{key}"]
        assert group["RetentionInDays"] == 30
        assert props["LoggingConfig"]["LogGroup"]["Ref"] in resources


def test_function_environment_is_exactly_the_contract(functions):
    expected_keys = {
        "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL",
        "DRILL_DB_INSTANCE_IDS", "DRILL_DR_REGION", "DRILL_INSTANCE_CLASS", "DRILL_DB_SECRETS", "DRILL_BUCKET",
        "DRILL_HISTORY_TABLE", "DRILL_TOPIC_ARN", "DRILL_RTO_MINUTES", "DRILL_RPO_MINUTES", "DRILL_EXPIRY_HOURS",
        "DRILL_DB_SSLMODE", "DRILL_PROVE_INDEXES", "DRILL_MAX_INDEX_PROPOSALS", "DRILL_MAX_PROOF_STATEMENTS",
        "DRILL_PROOF_BUILD_TIMEOUT_MS",
    }
    for key, (_, props) in functions.items():
        env = props["Environment"]["Variables"]
        assert set(env) == expected_keys, key  # checks/queries unset: the functions' seed defaults apply
        assert env["POWERTOOLS_SERVICE_NAME"] == "drill"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ChurnGuardOps"
        assert env["LOG_LEVEL"] == "INFO"
        assert json.loads(env["DRILL_DB_INSTANCE_IDS"]) == CONFIGURED
        assert env["DRILL_DR_REGION"] == DR
        assert env["DRILL_INSTANCE_CLASS"] == "db.t3.micro"
        assert json.loads(env["DRILL_DB_SECRETS"]) == {"churnguard-prod": CONFIGURED_SECRET}
        assert (env["DRILL_RTO_MINUTES"], env["DRILL_RPO_MINUTES"], env["DRILL_EXPIRY_HOURS"]) == ("30", "15", "6")
        assert env["DRILL_DB_SSLMODE"] == "verify-full"  # TLS verified against the RDS CA bundle in the layer
        assert (env["DRILL_PROVE_INDEXES"], env["DRILL_MAX_INDEX_PROPOSALS"], env["DRILL_MAX_PROOF_STATEMENTS"],
                env["DRILL_PROOF_BUILD_TIMEOUT_MS"]) == ("true", "5", "3", "300000")
        assert env["DRILL_BUCKET"]["Fn::GetStackOutput"]["OutputName"].startswith("PublishOutputRefBackupBucket")
        assert env["DRILL_TOPIC_ARN"]["Fn::GetStackOutput"]["OutputName"].startswith("PublishOutputRefOpsTopic")
        # DRILL_HISTORY_TABLE: see test_history_table_is_the_contract_table_with_kms_and_pitr


def test_history_table_is_the_contract_table_with_kms_and_pitr(resources, functions):
    table_id, table = only(resources, "AWS::DynamoDB::Table")
    props = table["Properties"]
    assert props["TableName"] == "churnguard-ops-drill-history"
    assert props["KeySchema"] == [{"AttributeName": "source_instance", "KeyType": "HASH"},
                                  {"AttributeName": "drill_id", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "source_instance": "S", "drill_id": "S"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    key_id, _ = only(resources, "AWS::KMS::Key")
    assert props["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert table["DeletionPolicy"] == "Retain"
    for key in functions:
        assert functions[key][1]["Environment"]["Variables"]["DRILL_HISTORY_TABLE"] == {"Ref": table_id}


@pytest.mark.parametrize("key", SCHEDULED)
def test_only_the_scheduled_functions_are_asynchronous_with_dlq_retries_and_single_concurrency(resources, functions,
                                                                                              key):
    configs = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
               for c in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()}
    assert set(configs) == {functions[k][0] for k in SCHEDULED}
    function_id, function = functions[key]
    config = configs[function_id]
    assert config["MaximumRetryAttempts"] == 2
    dlq_id = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert resources[dlq_id]["Properties"]["QueueName"] == f"churnguard-ops-drill-{key}-dlq"
    assert function["ReservedConcurrentExecutions"] == 1


# --- state machine ----------------------------------------------------------------------------

def test_state_machine_is_standard_logged_traced_and_times_out_after_4_hours(resources, state_machine, definition):
    _, sm = state_machine
    props = sm["Properties"]
    assert props["StateMachineName"] == "churnguard-ops-restore-drill"
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    log_group_id = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = resources[log_group_id]["Properties"]
    key_id, key = only(resources, "AWS::KMS::Key")
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert log_group["LogGroupName"] == "/aws/vendedlogs/states/churnguard-ops-restore-drill"
    # CloudWatch Logs may use the key for exactly this log group.
    logs_statements = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                       if "logs." in json.dumps(s.get("Principal", {}))]
    assert len(logs_statements) == 1
    assert flat(logs_statements[0]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]).endswith(
        ":log-group:/aws/vendedlogs/states/churnguard-ops-restore-drill")
    assert definition["TimeoutSeconds"] == 4 * 3600


def test_state_machine_has_exactly_the_contract_states(definition, states):
    assert definition["StartAt"] == "Plan"
    assert set(states) == STATE_NAMES


def test_tasks_invoke_their_function_directly_with_the_contract_payload_and_result_path(states, functions):
    for name, (key, result_path) in TASKS.items():
        state = states[name]
        assert state["Type"] == "Task", name
        # payload_response_only: the function ARN is the Resource (no lambda:invoke wrapper, no Payload key).
        assert state["Resource"] == f"arn:{functions[key][0]}", name
        assert state["ResultPath"] == result_path, name
        if key == "poll":
            target = "snapshot" if name == "PollSnapshot" else "instance"
            assert state["Parameters"] == {"target": target, "drill.$": "$"}, name
        elif key in ("plan", "cleanup", "report"):
            assert state["Parameters"] == WITH_EXECUTION, name
        else:
            assert "Parameters" not in state and "InputPath" not in state, f"{name}: the payload is the whole state"


def test_wait_loops_take_their_seconds_from_the_poll_results(states):
    assert states["WaitForSnapshot"] == {"Type": "Wait", "SecondsPath": "$.plan.wait.next_wait_seconds",
                                         "Next": "PollSnapshot"}
    assert states["WaitForInstance"] == {"Type": "Wait", "SecondsPath": "$.restore.wait.next_wait_seconds",
                                         "Next": "PollInstance"}
    assert states["Plan"]["Next"] == "RecoveryPointReady?"
    assert states["PollSnapshot"]["Next"] == "RecoveryPointReady?"
    assert states["RecoveryPointReady?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.plan.wait.ready", "BooleanEquals": True, "Next": "Restore"}],
        "Default": "WaitForSnapshot",
    }
    assert states["Restore"]["Next"] == "InstanceAvailable?"
    assert states["PollInstance"]["Next"] == "InstanceAvailable?"
    assert states["InstanceAvailable?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.restore.wait.ready", "BooleanEquals": True, "Next": "Validate"}],
        "Default": "WaitForInstance",
    }


def test_main_path_validates_measures_proves_indexes_cleans_up_reports_and_judges(states):
    assert states["Validate"]["Next"] == "MeasurePerformance"
    assert states["MeasurePerformance"]["Next"] == "ProveIndexes"
    assert states["ProveIndexes"]["Next"] == "Cleanup"
    assert states["Cleanup"]["Next"] == "Report"
    assert states["Report"]["Next"] == "DrillPassed?"
    assert states["DrillPassed?"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.report.passed", "BooleanEquals": True, "Next": "DrillSucceeded"}],
        "Default": "DrillFailed",
    }
    assert states["DrillSucceeded"] == {"Type": "Succeed"}
    assert states["DrillFailed"] == {"Type": "Fail", "Error": "DrillFailed",
                                     "Cause": "restore drill failed; see report"}


@pytest.mark.parametrize("name", RISKY)
def test_every_risky_task_retries_lambda_faults_and_catches_everything_into_cleanup(states, name):
    state = states[name]
    assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Cleanup"}]
    assert state["Retry"] == [
        {"ErrorEquals": LAMBDA_TRANSIENT, "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2},
        # the handlers' own transient errors (churnguard_ops.core.errors.Throttled / Unavailable)
        {"ErrorEquals": ["Throttled", "Unavailable"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2},
    ]


def test_cleanup_retries_everything_and_still_reports_when_it_fails(states):
    cleanup = states["Cleanup"]
    assert cleanup["Retry"] == [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3,
                                 "BackoffRate": 2}]
    assert cleanup["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "Report"}]


def test_a_failing_report_fails_the_drill(states):
    assert states["Report"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.report_error",
                                          "Next": "DrillFailed"}]


def test_no_path_from_plan_ends_without_passing_cleanup(states, definition):
    """Cleanup is a cut vertex: without it, no terminal state is reachable (success or failure)."""
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name == "Cleanup":
            continue
        seen.add(name)
        todo += _next_states(states[name])
    terminals = {n for n, s in states.items() if s["Type"] in ("Succeed", "Fail")}
    assert not (seen & terminals), f"reachable without Cleanup: {seen & terminals}"
    assert set(states) - seen == {"Cleanup", "Report", "DrillPassed?", "DrillSucceeded", "DrillFailed"}


def test_state_machine_role_invokes_only_the_drill_task_functions(resources, state_machine, functions):
    role_id = state_machine[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    invoke = [s for s in policy_statements(resources, role_id) if "lambda:InvokeFunction" in as_list(s["Action"])]
    invoked = {flat(r).split(".Arn>")[0].lstrip("<") for s in invoke for r in as_list(s["Resource"])}
    assert invoked == {functions[k][0] for k in HANDLERS if k not in SCHEDULED}


# --- schedules --------------------------------------------------------------------------------

def test_weekly_rule_starts_the_state_machine_with_the_contract_input(resources, state_machine):
    sm_id, _ = state_machine
    rules = {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()}
    weekly = rules["churnguard-ops-restore-drill-weekly"]
    assert weekly["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
    assert weekly["State"] == "ENABLED"
    (target,) = weekly["Targets"]
    assert target["Arn"] == {"Ref": sm_id}
    assert json.loads(target["Input"]) == SCHEDULED_INPUT
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert resources[dlq_id]["Properties"]["QueueName"] == "churnguard-ops-drill-schedule-dlq"
    role = target["RoleArn"]["Fn::GetAtt"][0]
    (start,) = [s for s in policy_statements(resources, role) if "states:StartExecution" in as_list(s["Action"])]
    assert start["Resource"] == {"Ref": sm_id}


def test_sweeper_runs_hourly_with_dlq_and_retries(resources, functions):
    rules = {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()}
    sweeper = rules["churnguard-ops-drill-sweeper"]
    assert sweeper["ScheduleExpression"] == "rate(1 hour)"
    (target,) = sweeper["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [functions["sweeper"][0], "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert resources[dlq_id]["Properties"]["QueueName"] == "churnguard-ops-drill-sweeper-dlq"


def test_schedule_comes_from_context(tmp_path):
    template = synth_drill_template(tmp_path, {"schedule": "cron(30 4 ? * SAT *)"})
    rules = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert "cron(30 4 ? * SAT *)" in {r["ScheduleExpression"] for r in rules}


# --- IAM --------------------------------------------------------------------------------------

PURPOSE_CONDITION = {"StringEquals": {"aws:ResourceTag/Purpose": "RestoreDrill",
                                      "aws:ResourceTag/CreatedBy": "churnguard-ops"}}


@pytest.mark.parametrize("key", ["cleanup", "sweeper"])
def test_deletes_are_limited_to_drill_resources_tagged_purpose_restore_drill(resources, functions, key):
    statements = _statements(resources, functions, key)
    (instances,) = _with_action(statements, "rds:DeleteDBInstance")
    (snapshots,) = _with_action(statements, "rds:DeleteDBSnapshot")
    for stmt, expected in ((instances, DRILL_INSTANCES), (snapshots, DRILL_SNAPSHOTS)):
        assert stmt["Condition"] == PURPOSE_CONDITION
        assert _resources_of([stmt]) == expected
    # Only switching off inherited deletion protection rides on the instance condition with the delete.
    assert sorted(as_list(instances["Action"])) == ["rds:DeleteDBInstance", "rds:ModifyDBInstance"]
    assert as_list(snapshots["Action"]) == ["rds:DeleteDBSnapshot"]


def test_only_cleanup_and_sweeper_may_delete_anything(resources, functions):
    for key in functions:
        actions = {a for s in _statements(resources, functions, key) for a in as_list(s["Action"])}
        deletes = {a for a in actions if ":Delete" in a and not a.startswith("ec2:")}
        if key in ("cleanup", "sweeper"):
            assert deletes == {"rds:DeleteDBInstance", "rds:DeleteDBSnapshot"}
        else:
            assert deletes == set(), key


def test_only_restore_creates_instances_and_only_drill_named_ones(resources, functions):
    for key in functions:
        statements = _statements(resources, functions, key)
        restore_like = [s for s in statements if {"rds:CreateDBInstance", "rds:RestoreDBInstanceFromDBSnapshot",
                                                  "rds:RestoreDBInstanceToPointInTime"} & set(as_list(s["Action"]))]
        if key != "restore":
            assert restore_like == [], key
            continue
        db_targets = {r for r in _resources_of(restore_like) if ":db:" in r}
        # New instances only under the drill prefix; configured sources only as point-in-time sources.
        assert db_targets == set(DRILL_INSTANCES) | set(SOURCE_DBS)
        assert _with_action(statements, "rds:CreateDBInstance") == []  # restores never need it
        (from_snapshot,) = _with_action(statements, "rds:RestoreDBInstanceFromDBSnapshot")
        assert not any(r in SOURCE_DBS for r in _resources_of([from_snapshot]))


def test_only_plan_takes_snapshots_and_only_drill_named_ones(resources, functions):
    for key in functions:
        creates = _with_action(_statements(resources, functions, key), "rds:CreateDBSnapshot")
        if key != "plan":
            assert creates == [], key
            continue
        assert _resources_of(creates) == sorted(SOURCE_DBS + [_rds(PRIMARY, "snapshot", "churnguard-ops-dr-test-*")])


def test_restore_may_use_the_dr_key_by_alias_for_encrypted_dr_copies(resources, functions):
    statements = _statements(resources, functions, "restore")
    grants = _with_action(statements, "kms:CreateGrant")
    dr = [s for s in grants if "us-west-2" in flat(s["Resource"])]
    (dr_grant,) = dr
    assert dr_grant["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": ["alias/churnguard-ops-dr"]}
    assert dr_grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert all(s["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"} for s in grants)


def test_s3_access_is_limited_to_baselines_for_validate_proposals_for_prove_and_drills_for_report(resources,
                                                                                                 functions):
    for key in functions:
        statements = _statements(resources, functions, key)
        gets = _resources_of(_with_action(statements, "s3:GetObject"))
        puts = _resources_of(_with_action(statements, "s3:PutObject"))
        if key == "validate":
            assert len(gets) == 1 and gets[0].endswith("}/baselines/*") and "BackupBucket" in gets[0]
            (listing,) = _with_action(statements, "s3:ListBucket")
            assert listing["Condition"] == {"StringLike": {"s3:prefix": ["baselines/*"]}}
        elif key == "prove":  # the advisor's index proposals, nothing else
            assert len(gets) == 1 and gets[0].endswith("}/dbadvisor/proposals/*") and "BackupBucket" in gets[0]
            (listing,) = _with_action(statements, "s3:ListBucket")
            assert listing["Condition"] == {"StringLike": {"s3:prefix": ["dbadvisor/proposals/*"]}}
        else:
            assert gets == [], key
        if key == "report":
            assert len(puts) == 1 and puts[0].endswith("}/drills/*") and "BackupBucket" in puts[0]
        else:
            assert puts == [], key


def test_report_writes_history_and_publishes_to_the_ops_topic_only(resources, functions):
    table_id, _ = only(resources, "AWS::DynamoDB::Table")
    for key in functions:
        statements = _statements(resources, functions, key)
        puts = _with_action(statements, "dynamodb:PutItem")
        publishes = _with_action(statements, "sns:Publish")
        if key == "report":
            assert [s["Resource"] for s in puts] == [{"Fn::GetAtt": [table_id, "Arn"]}]
            (publish,) = publishes
            assert publish["Resource"]["Fn::GetStackOutput"]["OutputName"].startswith("PublishOutputRefOpsTopic")
        else:
            assert puts == publishes == [], key


def test_functions_without_a_vpc_by_default(functions):
    assert all("VpcConfig" not in props for _, props in functions.values())


def test_vpc_context_puts_only_validate_measure_and_prove_in_the_vpc(tmp_path):
    vpc = {"vpc_id": "vpc-0123456789abcdef0", "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
           "security_group_ids": ["sg-0123456789abcdef0"]}
    template = synth_drill_template(tmp_path, {"vpc": vpc})
    resources = template["Resources"]
    in_vpc = {}
    for logical_id, res in of_type(resources, "AWS::Lambda::Function").items():
        props = res["Properties"]
        if "VpcConfig" in props:
            in_vpc[props["FunctionName"]] = (logical_id, props["VpcConfig"])
    assert set(in_vpc) == {"churnguard-ops-drill-validate", "churnguard-ops-drill-measure",
                           "churnguard-ops-drill-prove"}
    for logical_id, config in in_vpc.values():
        assert config == {"SubnetIds": vpc["subnet_ids"], "SecurityGroupIds": vpc["security_group_ids"]}
        role_id = resources[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        eni = [s for s in policy_statements(resources, role_id) if "ec2:CreateNetworkInterface" in as_list(s["Action"])]
        assert len(eni) == 1
        eni_policy = [k for k, v in of_type(resources, "AWS::IAM::Policy").items()
                      if {"Ref": role_id} in v["Properties"]["Roles"] and "VpcAccess" in k]
        assert eni_policy and set(eni_policy) <= set(resources[logical_id].get("DependsOn", []))


def test_configured_secrets_are_the_only_ones_validate_measure_and_prove_can_read(tmp_path):
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churnguard/prod-db-AbCdEf"
    template = synth_drill_template(tmp_path, {"db_secrets": {"churnguard-prod": secret}})
    resources = template["Resources"]
    for res in of_type(resources, "AWS::Lambda::Function").values():
        props = res["Properties"]
        assert json.loads(props["Environment"]["Variables"]["DRILL_DB_SECRETS"]) == {"churnguard-prod": secret}
        role_id = props["Role"]["Fn::GetAtt"][0]
        reads = [s for s in policy_statements(resources, role_id)
                 if "secretsmanager:GetSecretValue" in as_list(s["Action"])]
        if props["FunctionName"].endswith(("-validate", "-measure", "-prove")):
            assert [s["Resource"] for s in reads] == [sorted([secret, f"{secret}-??????"])]
        else:
            assert reads == []


def test_checks_and_performance_queries_from_context_reach_the_functions(tmp_path):
    checks = [{"check": "row_counts_vs_baseline", "params": {"tolerance_pct": 0.5}}]
    queries = [{"name": "q1", "sql": "SELECT 1", "max_ms": 100.0}]
    template = synth_drill_template(tmp_path, {"checks": checks, "performance_queries": queries})
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Lambda::Function":
            env = res["Properties"]["Environment"]["Variables"]
            assert json.loads(env["DRILL_CHECKS"]) == checks
            assert json.loads(env["DRILL_PERFORMANCE_QUERIES"]) == queries


def _allowed_actions(resources, role_id: str) -> set[str]:
    return {a for s in policy_statements(resources, role_id) if s["Effect"] == "Allow" for a in as_list(s["Action"])}


def _check_runners() -> list[str]:
    from infra_cdk.stacks.drill_spec import FUNCTION_SPECS

    runners = [spec.key for spec in FUNCTION_SPECS if spec.runs_checks]
    assert runners == ["validate"]
    return runners


def test_functions_that_run_checks_may_call_what_the_default_checks_declare(resources, functions):
    from churnguard_ops.drill.checks import CHECKS, DEFAULT_CHECKS

    declared = CHECKS.permissions(spec.check for spec in DEFAULT_CHECKS)
    for key in _check_runners():
        assert declared <= _allowed_actions(resources, _role_id(functions, key)), key


def test_a_configured_checks_permissions_are_granted_to_the_functions_that_run_checks(tmp_path, monkeypatch):
    from churnguard_ops.drill.checks import CHECKS, IntegrityCheck

    class DescribesClusters(IntegrityCheck):
        """Test-only check that calls an AWS API.

        Example: ``{"check": "test_describes_clusters"}``
        """

        name = "test_describes_clusters"
        permissions = ("rds:DescribeDBClusters",)

        def run(self, conn, params, context):  # pragma: no cover - never run at synth
            return self.result("passed", "")

    monkeypatch.setitem(CHECKS, DescribesClusters.name, DescribesClusters)
    template = synth_drill_template(tmp_path, {"checks": [{"check": "amcheck"}, {"check": DescribesClusters.name}]},
                                    nag=True)
    resources = template["Resources"]
    runners = _check_runners()
    for res in of_type(resources, "AWS::Lambda::Function").values():
        key = res["Properties"]["FunctionName"].removeprefix("churnguard-ops-drill-")
        allowed = _allowed_actions(resources, res["Properties"]["Role"]["Fn::GetAtt"][0])
        if key in runners:
            assert set(DescribesClusters.permissions) <= allowed, key
        else:
            assert not set(DescribesClusters.permissions) & allowed, key


# --- alarms, outputs --------------------------------------------------------------------------

def _alarms(resources) -> dict[str, dict[str, Any]]:
    return {a["Properties"]["AlarmName"]: a["Properties"]
            for a in of_type(resources, "AWS::CloudWatch::Alarm").values()}


def test_alarm_when_no_drill_succeeded_in_exactly_8_days_by_the_age_of_the_last_success(resources):
    alarm = _alarms(resources)["churnguard-ops-drill-no-success-8d"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "ChurnGuardOps", "SecondsSinceLastSuccessfulDrill", "Maximum")
    # Powertools adds service=drill to every EMF metric; the scheduled drill drills the first instance.
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "SourceDBInstance", "Value": "churnguard-prod"}, {"Name": "service", "Value": "drill"}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 8 * 86400)
    # Never a success, or the freshness function not running: missing data pages.
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3600, 1, 1)
    assert "8 days" in alarm["AlarmDescription"]
    assert not any(a["MetricName"] == "DrillSucceeded" for a in _alarms(resources).values())  # the old one is gone


def test_freshness_runs_every_15_minutes_so_no_alarm_period_is_left_empty(resources, functions):
    rules = {r["Properties"]["Name"]: r["Properties"] for r in of_type(resources, "AWS::Events::Rule").values()}
    rule = rules["churnguard-ops-drill-freshness"]
    assert rule["ScheduleExpression"] == "rate(15 minutes)"  # four values per one-hour alarm period
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [functions["freshness"][0], "Arn"]}


def test_freshness_may_only_query_the_history_table(resources, functions):
    statements = _statements(resources, functions, "freshness")
    actions = {a for s in statements for a in as_list(s["Action"])}
    assert {a for a in actions if a.startswith(("dynamodb:", "rds:", "s3:", "sns:"))} == {"dynamodb:Query"}
    table_id, _ = only(resources, "AWS::DynamoDB::Table")
    (query,) = _with_action(statements, "dynamodb:Query")
    assert query["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}


def test_no_success_threshold_comes_from_context(tmp_path):
    from infra_cdk.app import cdk_json_context

    drill = {**cdk_json_context()["churnguard"]["drill"], "no_success_alert_days": 15}
    resources = synth_drill_template(tmp_path, drill)["Resources"]
    alarm = _alarms(resources)["churnguard-ops-drill-no-success-15d"]
    assert alarm["Threshold"] == 15 * 86400 and alarm["TreatMissingData"] == "breaching"


def test_only_report_reads_rds_events_and_on_star_because_describe_events_has_no_resource_type(resources,
                                                                                              functions):
    for key in HANDLERS:
        found = _with_action(_statements(resources, functions, key), "rds:DescribeEvents")
        if key == "report":
            (statement,) = found
            assert statement["Resource"] == "*" and as_list(statement["Action"]) == ["rds:DescribeEvents"]
        else:
            assert found == [], key


def test_alarm_windows_are_valid_for_cloudwatch(resources):
    for name, alarm in _alarms(resources).items():
        window = alarm["Period"] * alarm["EvaluationPeriods"]
        assert alarm["Period"] % 60 == 0, name
        assert window <= (86400 if alarm["Period"] < 3600 else 7 * 86400), name


def test_failures_timeouts_sweeper_errors_and_dlqs_alarm_the_ops_topic(resources, state_machine, functions):
    sm_id, _ = state_machine
    alarms = _alarms(resources)
    failed = alarms["churnguard-ops-drill-executions-failed"]
    timed_out = alarms["churnguard-ops-drill-executions-timed-out"]
    for alarm, metric in ((failed, "ExecutionsFailed"), (timed_out, "ExecutionsTimedOut")):
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == ("AWS/States", metric, 0)
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": sm_id}}]
    errors = alarms["churnguard-ops-drill-sweeper-errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Threshold"]) == ("AWS/Lambda", "Errors", 0)
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": functions["sweeper"][0]}}]
    for name in ("churnguard-ops-drill-sweeper-dlq-not-empty", "churnguard-ops-drill-schedule-dlq-not-empty"):
        assert alarms[name]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert len(alarms) == 6
    for alarm in alarms.values():
        (action,) = alarm["AlarmActions"]
        assert action["Fn::GetStackOutput"]["OutputName"].startswith("PublishOutputRefOpsTopic")


def test_outputs_name_state_machine_functions_and_history_table(synth):
    outputs = synth.template_json(synth.drill)["Outputs"]
    expected = {"StateMachineArn", "HistoryTableName"} | {
        f"{k.capitalize()}FunctionName" for k in HANDLERS}
    assert expected <= set(outputs)


def test_restores_only_read_our_backups_drill_snapshots_and_the_sources_automated_snapshots(resources, functions):
    (from_snapshot,) = _with_action(_statements(resources, functions, "restore"), "rds:RestoreDBInstanceFromDBSnapshot")
    snapshots = sorted(r for r in _resources_of([from_snapshot]) if ":snapshot:" in r)
    assert not any(r.endswith(":snapshot:*") for r in snapshots)
    names = {r.rsplit(":snapshot:", 1)[1] for r in snapshots}
    # Only the configured instances' recovery points: not any snapshot that happens to be named churnguard-ops-*.
    assert names == {"churnguard-ops-churnguard-prod-*", "churnguard-ops-churnguard-analytics-*",
                     "churnguard-ops-dr-test-*", "rds:churnguard-prod-*", "rds:churnguard-analytics-*"}


def test_prove_decrypts_only_with_the_ops_key_and_through_secrets_manager(resources, functions):
    decrypts = _with_action(_statements(resources, functions, "prove"), "kms:Decrypt")
    direct = [s for s in decrypts if "Condition" not in s]
    (ops_key,) = direct  # the proposals document is encrypted with the ops bucket's key
    assert "BackupKey" in flat(ops_key["Resource"])
    via = "secretsmanager.us-east-1.amazonaws.com"
    for statement in decrypts:
        if statement is not ops_key:  # the configured database secret, only as Secrets Manager uses the key
            assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [via]
    actions = {a for s in _statements(resources, functions, "prove") for a in as_list(s["Action"])}
    assert not {a for a in actions if a.startswith("s3:") and a not in ("s3:GetObject", "s3:ListBucket")}
