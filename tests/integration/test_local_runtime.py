"""The embedded AWS runtime: moto + in-process Lambda dispatch + CDK template deployment.

The CDK app under test is synthesized here (one Python Lambda, a Step Functions workflow
built with tasks.LambdaInvoke) so these tests do not depend on infra_cdk/.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from opsctl.local.aws import EmbeddedAws
from opsctl.local.deploy import LocalDeployment, deploy_cloud_assembly, deploy_stack
from opsctl.local.lambda_runtime import parse_function_identifier
from opsctl.local.template import NO_VALUE, PhysicalResource, Resolver, deployment_order

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
STACK = "LocalRuntimeTest"

HANDLER_SOURCE = textwrap.dedent(
    """
    import os

    import boto3


    def handler(event, context):
        if event.get("fail"):
            raise ValueError(f"asked to fail: {event['fail']}")
        buckets = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
        return {
            "ok": bool(event.get("ok")),
            "echo": event,
            "stage": os.environ["STAGE"],
            "bucket_exists": os.environ["BUCKET"] in buckets,
            "function": context.function_name,
        }
    """
)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesize the tiny test app once per module (jsii start-up dominates: ~15-20 s)."""
    import aws_cdk as cdk
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_stepfunctions as sfn
    from aws_cdk import aws_stepfunctions_tasks as tasks

    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    root = tmp_path_factory.mktemp("cdkapp")
    code_dir = root / "echo"
    code_dir.mkdir()
    (code_dir / "app.py").write_text(HANDLER_SOURCE)
    outdir = root / "cdk.out"

    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    bucket = s3.Bucket(stack, "Data", versioned=True)
    fn = lambda_.Function(
        stack,
        "Echo",  # no function_name: exercises the generated-name path
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="app.handler",
        code=lambda_.Code.from_asset(str(code_dir)),
        environment={"BUCKET": bucket.bucket_name, "STAGE": "local-test"},
    )
    # CDK's default LambdaInvoke: the arn:aws:states:::lambda:invoke integration, output wraps Payload.
    first = tasks.LambdaInvoke(stack, "InvokeEcho", lambda_function=fn)
    first.add_catch(sfn.Pass(stack, "Caught"), errors=["ValueError"], result_path="$.error")
    # payload_response_only: the plain function ARN as Resource, output is the payload itself.
    direct = tasks.LambdaInvoke(
        stack,
        "InvokeDirect",
        lambda_function=fn,
        payload_response_only=True,
        payload=sfn.TaskInput.from_object({"ok": True, "previous": sfn.JsonPath.object_at("$.Payload.echo")}),
    )
    choice = (
        sfn.Choice(stack, "Ok?")
        .when(sfn.Condition.boolean_equals("$.Payload.ok", True), direct.next(sfn.Succeed(stack, "Done")))
        .otherwise(sfn.Fail(stack, "NotOk", error="NotOk"))
    )
    machine = sfn.StateMachine(stack, "Flow", definition_body=sfn.DefinitionBody.from_chainable(first.next(choice)))
    events.Rule(
        stack,
        "Every5",
        schedule=events.Schedule.rate(cdk.Duration.minutes(5)),
        targets=[targets.LambdaFunction(fn, event=events.RuleTargetInput.from_object({"ok": True}))],
    )
    cdk.CfnOutput(stack, "FlowArn", value=machine.state_machine_arn)
    cdk.CfnOutput(stack, "FunctionName", value=fn.function_name)
    cdk.CfnOutput(stack, "BucketName", value=bucket.bucket_name)
    app.synth()
    return outdir


@pytest.fixture
def aws() -> Any:
    """A fresh embedded AWS per test (moto state is process-global, so reset it)."""
    with EmbeddedAws() as embedded:
        embedded.reset()
        yield embedded


@pytest.fixture
def deployment(aws: EmbeddedAws, cdk_out: Path) -> LocalDeployment:
    return deploy_cloud_assembly(aws, cdk_out)[STACK]


def run_execution(state_machine_arn: str, payload: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} still running after {timeout}s")


def register_inline(aws: EmbeddedAws, tmp_path: Path, name: str, source: str, **kwargs: Any) -> None:
    code_dir = tmp_path / name
    code_dir.mkdir()
    (code_dir / "app.py").write_text(textwrap.dedent(source))
    aws.register(name, "app.handler", code_dir=code_dir, **kwargs)


# --------------------------------------------------------------------------------------
# CDK template -> local deployment -> Step Functions -> real handler
# --------------------------------------------------------------------------------------
def test_cdk_default_lambda_invoke_uses_service_integration_and_payload_response_only_uses_function_arn(
    cdk_out: Path,
) -> None:
    """Pins what CDK 2.275 generates, i.e. the two Lambda task forms the runtime must serve."""
    template = json.loads((cdk_out / f"{STACK}.template.json").read_text())
    resources = template["Resources"]
    resolver = Resolver(template, STACK, "us-east-1")
    for logical_id in resources:  # every GetAtt answers "<logical id>.<attr>" so we can read the wiring
        resolver.resources[logical_id] = PhysicalResource(logical_id, _EchoAttributes(logical_id))
    machine = next(r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    states = json.loads(resolver.resolve(machine["Properties"]["DefinitionString"]))["States"]
    echo = next(k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function")

    assert states["InvokeEcho"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert states["InvokeEcho"]["Parameters"] == {"FunctionName": f"{echo}.Arn", "Payload.$": "$"}
    assert states["InvokeDirect"]["Resource"] == f"{echo}.Arn"


class _EchoAttributes(dict):  # type: ignore[type-arg]
    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self.logical_id = logical_id

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"{self.logical_id}.{key}"


def test_state_machine_from_template_runs_real_handler_through_both_lambda_task_forms(
    aws: EmbeddedAws, deployment: LocalDeployment
) -> None:
    result = run_execution(deployment.outputs["FlowArn"], {"ok": True, "n": 1})

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    # Second task (plain function ARN resource): output is the handler's own return value,
    # whose input came from the first task's Payload (lambda:invoke integration).
    assert output == {
        "ok": True,
        "echo": {"ok": True, "previous": {"ok": True, "n": 1}},
        "stage": "local-test",
        "bucket_exists": True,  # the handler's boto3 reached embedded AWS and saw the deployed bucket
        "function": deployment.outputs["FunctionName"],
    }
    assert [name for name, _ in aws.lambdas.invocations] == [deployment.outputs["FunctionName"]] * 2


def test_handler_exception_takes_catch_path_with_error_type_as_error_name(deployment: LocalDeployment) -> None:
    result = run_execution(deployment.outputs["FlowArn"], {"fail": "on purpose"})

    assert result["status"] == "SUCCEEDED", result  # caught, so the execution still succeeds
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "ValueError"
    cause = json.loads(error["Cause"])
    assert cause["errorMessage"] == "asked to fail: on purpose"
    assert cause["errorType"] == "ValueError"


def test_choice_default_branch_fails_execution_when_handler_reports_not_ok(deployment: LocalDeployment) -> None:
    result = run_execution(deployment.outputs["FlowArn"], {"ok": False})

    assert result["status"] == "FAILED"
    assert result.get("error") == "NotOk"


def test_unnamed_executions_get_unique_names_like_aws(deployment: LocalDeployment) -> None:
    first = run_execution(deployment.outputs["FlowArn"], {"ok": False})
    second = run_execution(deployment.outputs["FlowArn"], {"ok": False})

    assert first["name"] != second["name"] and first["name"] not in ("None", "")


def test_deploy_resolves_intrinsics_into_physical_resources_and_records_skips(
    aws: EmbeddedAws, deployment: LocalDeployment
) -> None:
    bucket = deployment.outputs["BucketName"]
    assert bucket.startswith("localruntimetest-data")  # generated, lowercase, stack-prefixed
    assert aws.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    fn = deployment.functions[deployment.outputs["FunctionName"]]
    assert fn.environment == {"BUCKET": bucket, "STAGE": "local-test"}
    assert (fn.code_dir / "app.py").read_text() == HANDLER_SOURCE  # the CDK asset dir in cdk.out
    moto_fn = aws.client("lambda").get_function(FunctionName=fn.name)["Configuration"]
    assert moto_fn["Environment"]["Variables"]["BUCKET"] == bucket

    assert deployment.outputs["FlowArn"] in deployment.state_machines.values()
    skipped = {s.type: s for s in deployment.skipped}
    rule = skipped["AWS::Events::Rule"]
    assert rule.properties["ScheduleExpression"] == "rate(5 minutes)"
    assert rule.properties["Targets"][0]["Arn"] == fn.arn
    assert json.loads(rule.properties["Targets"][0]["Input"]) == {"ok": True}
    assert "AWS::IAM::Policy" in skipped


def test_stack_deploys_into_the_region_the_caller_names(aws: EmbeddedAws, tmp_path: Path) -> None:
    template = {
        "Resources": {
            "Dr": {"Type": "AWS::S3::Bucket"},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "same-name",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "import os\ndef handler(e, c):\n    return os.environ['AWS_REGION']\n"},
                    "Environment": {"Variables": {"DR_BUCKET": {"Ref": "Dr"}}},
                },
            },
        },
        "Outputs": {"Where": {"Value": {"Fn::Sub": "${AWS::Region}/${Dr}/${Fn.Arn}"}}},
    }
    dr = deploy_stack(aws, template, region="us-west-2", stack_name="Dr", assembly_dir=tmp_path)

    bucket = dr.physical_id("Dr")
    location = aws.client("s3", "us-west-2").get_bucket_location(Bucket=bucket)["LocationConstraint"]
    assert location == "us-west-2"
    assert dr.outputs["Where"] == f"us-west-2/{bucket}/arn:aws:lambda:us-west-2:{ACCOUNT}:function:same-name"
    # Invoked by its us-west-2 ARN, the function runs with its own region in AWS_REGION.
    response = aws.client("lambda", "us-east-1").invoke(FunctionName=dr.functions["same-name"].arn)
    assert json.load(response["Payload"]) == "us-west-2"


# --------------------------------------------------------------------------------------
# The Invoke middleware
# --------------------------------------------------------------------------------------
def test_invoke_error_has_aws_unhandled_shape(aws: EmbeddedAws, tmp_path: Path) -> None:
    register_inline(aws, tmp_path, "fails", "def handler(e, c):\n    raise KeyError('missing')\n")

    response = boto3.client("lambda").invoke(FunctionName="fails", Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = json.load(response["Payload"])
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'missing'"
    assert isinstance(body["stackTrace"], list) and any("app.py" in line for line in body["stackTrace"])


def test_unserializable_result_is_a_marshal_error(aws: EmbeddedAws, tmp_path: Path) -> None:
    register_inline(aws, tmp_path, "marshal", "def handler(e, c):\n    return {'x': object()}\n")

    response = boto3.client("lambda").invoke(FunctionName="marshal")

    assert response["FunctionError"] == "Unhandled"
    assert json.load(response["Payload"])["errorType"] == "Runtime.MarshalError"


@pytest.mark.parametrize(
    "identifier",
    [
        "echo-fn",
        "echo-fn:$LATEST",
        f"{ACCOUNT}:function:echo-fn",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo-fn",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo-fn:live",
    ],
)
def test_function_is_found_by_name_partial_or_full_arn_with_or_without_qualifier(
    aws: EmbeddedAws, tmp_path: Path, identifier: str
) -> None:
    register_inline(aws, tmp_path, "echo-fn",
                    "def handler(e, c):\n    return {'seen': e, 'arn': c.invoked_function_arn}\n")

    response = boto3.client("lambda").invoke(FunctionName=identifier, Payload=json.dumps({"k": 1}))

    assert "FunctionError" not in response
    expected_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:echo-fn"
    assert json.load(response["Payload"]) == {"seen": {"k": 1}, "arn": expected_arn}


def test_parse_function_identifier_rejects_garbage() -> None:
    assert parse_function_identifier("arn:aws:lambda:eu-west-1:123456789012:function:f:1") == ("f", "eu-west-1", "1")
    with pytest.raises(ValueError):
        parse_function_identifier("not a/function")


def test_unregistered_function_is_resource_not_found_not_a_canned_success(aws: EmbeddedAws) -> None:
    with pytest.raises(ClientError) as exc:
        boto3.client("lambda").invoke(FunctionName="nobody-registered-me")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_step_functions_sees_unregistered_function_as_lambda_resource_not_found(aws: EmbeddedAws) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "ghost", "Payload.$": "$"},
                "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    arn = boto3.client("stepfunctions").create_state_machine(
        name="ghost-caller", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/any"
    )["stateMachineArn"]

    result = run_execution(arn, {})

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["Error"] == "Lambda.ResourceNotFoundException"


def test_other_lambda_api_calls_still_reach_moto(aws: EmbeddedAws, deployment: LocalDeployment) -> None:
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    assert names == [deployment.outputs["FunctionName"]]


def test_function_environment_is_overlaid_during_invoke_and_removed_after(aws: EmbeddedAws, tmp_path: Path) -> None:
    source = """
        import os
        def handler(e, c):
            os.environ["LEAKED_BY_HANDLER"] = "x"
            return {k: os.environ.get(k) for k in ("ONLY_IN_FUNCTION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ENDPOINT_URL")}
    """
    register_inline(aws, tmp_path, "envy", source, environment={"ONLY_IN_FUNCTION": "yes"})

    seen = json.load(boto3.client("lambda").invoke(FunctionName="envy")["Payload"])

    assert seen == {"ONLY_IN_FUNCTION": "yes", "AWS_LAMBDA_FUNCTION_NAME": "envy", "AWS_ENDPOINT_URL": aws.endpoint_url}
    assert "ONLY_IN_FUNCTION" not in os.environ and "LEAKED_BY_HANDLER" not in os.environ


def test_concurrent_invocations_each_see_only_their_own_environment(aws: EmbeddedAws, tmp_path: Path) -> None:
    source = """
        import os, time
        def handler(e, c):
            before = os.environ["WHO"]
            time.sleep(0.05)
            return [before, os.environ["WHO"]]
    """
    for name in ("left", "right"):
        register_inline(aws, tmp_path, name, source, environment={"WHO": name})
    results: dict[str, Any] = {}

    def call(name: str) -> None:
        results[name] = json.load(aws.client("lambda").invoke(FunctionName=name)["Payload"])

    threads = [threading.Thread(target=call, args=(n,)) for n in ("left", "right") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results == {"left": ["left", "left"], "right": ["right", "right"]}


def test_async_event_invoke_is_accepted_and_runs_in_background(aws: EmbeddedAws, tmp_path: Path) -> None:
    done = threading.Event()
    aws.register("async-fn", lambda e, c: done.set())

    response = boto3.client("lambda").invoke(FunctionName="async-fn", InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    assert done.wait(5)


def test_handler_modules_with_same_file_name_load_separately_and_once(aws: EmbeddedAws, tmp_path: Path) -> None:
    source = "COUNT = 0\ndef handler(e, c):\n    global COUNT\n    COUNT += 1\n    return [__name__, COUNT]\n"
    register_inline(aws, tmp_path, "one", source)
    register_inline(aws, tmp_path, "two", source)
    lam = boto3.client("lambda")

    one_a, one_b, two = (json.load(lam.invoke(FunctionName=n)["Payload"]) for n in ("one", "one", "two"))

    assert one_a[1] == 1 and one_b[1] == 2  # imported once: module state survives (a warm container)
    assert two[1] == 1 and two[0] != one_a[0]


# --------------------------------------------------------------------------------------
# Environment wiring
# --------------------------------------------------------------------------------------
def test_start_points_process_at_embedded_server_and_stop_restores_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "real-account")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with EmbeddedAws(region="eu-central-1") as embedded:
        assert os.environ["AWS_ENDPOINT_URL"] == embedded.endpoint_url
        assert os.environ["MOTO_PORT"] == str(embedded.port)
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-central-1"
        assert "AWS_PROFILE" not in os.environ  # a profile would override the dummy keys
        assert boto3.client("sts").get_caller_identity()["Account"] == ACCOUNT
    assert os.environ["AWS_PROFILE"] == "real-account"
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_clients_are_made_once_per_service_and_region_and_follow_a_restart_to_its_new_port() -> None:
    embedded = EmbeddedAws(region="eu-central-1")
    with embedded:
        s3 = embedded.client("s3")
        assert embedded.client("s3") is s3 and embedded.client("s3", "eu-central-1") is s3
        assert embedded.client("s3", "us-west-2") is not s3 and embedded.client("sqs") is not s3
    with embedded:  # started again, on the port the OS picks now: new clients, for that port
        assert embedded.client("s3") is not s3
        assert embedded.client("s3").meta.endpoint_url == embedded.endpoint_url
        assert embedded.client("s3").list_buckets()["Buckets"] == []


def test_injected_fault_answers_before_moto_and_reset_clears_it(aws: EmbeddedAws) -> None:
    from botocore.config import Config

    from opsctl.local.faults import Fault

    dynamodb = boto3.client("dynamodb", config=Config(retries={"max_attempts": 1}))
    aws.faults.add(Fault.parse("dynamodb:ListTables"))
    with pytest.raises(ClientError) as exc:
        dynamodb.list_tables()
    assert exc.value.response["Error"]["Code"] == "Throttling"

    aws.reset()
    assert dynamodb.list_tables()["TableNames"] == []


def test_moto_is_configured_to_execute_state_machines_without_docker(aws: EmbeddedAws) -> None:
    config = aws.configure()
    assert config["lambda"] == {"use_docker": False}
    from moto.core.config import default_user_config  # read-only check of the effect

    assert default_user_config["stepfunctions"] == {"execute_state_machine": True}


# --------------------------------------------------------------------------------------
# Template resolver
# --------------------------------------------------------------------------------------
def _resolver() -> Resolver:
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {},
    }
    resolver = Resolver(template, "Stack", "us-west-2")
    resolver.resources["Bucket"] = PhysicalResource("my-bucket", {"Arn": "arn:aws:s3:::my-bucket"})
    return resolver


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::Sub": "${AWS::Region}:${AWS::AccountId}:${Bucket}:${Bucket.Arn}:${!Literal}"},
         f"us-west-2:{ACCOUNT}:my-bucket:arn:aws:s3:::my-bucket:${{Literal}}"),
        ({"Fn::Sub": ["${Name}-${AWS::StackName}", {"Name": {"Ref": "Bucket"}}]}, "my-bucket-Stack"),
        ({"Fn::Join": ["/", ["a", {"Ref": "AWS::Partition"}, {"Ref": "AWS::URLSuffix"}]]}, "a/aws/amazonaws.com"),
        ({"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": "Bucket.Arn"}]}]}, "aws"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "small"),
        ({"k": {"Ref": "AWS::NoValue"}, "j": {"Ref": "Env"}}, {"j": "dev"}),
    ],
)  # fmt: skip
def test_resolver_evaluates_intrinsics(expression: Any, expected: Any) -> None:
    assert _resolver().resolve(expression) == expected


def test_no_value_in_a_list_is_dropped() -> None:
    assert _resolver().resolve(["a", {"Ref": "AWS::NoValue"}]) == ["a"]
    assert NO_VALUE not in _resolver().resolve([{"Ref": "AWS::NoValue"}])


def test_deployment_order_puts_referenced_resources_first() -> None:
    template = {
        "Resources": {
            "Machine": {"Properties": {"Def": {"Fn::Sub": "${Fn.Arn}"}}},
            "Fn": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}, "DependsOn": "Key"},
            "Role": {"Properties": {}},
            "Key": {"Properties": {}},
        }
    }
    order = deployment_order(template)
    assert order.index("Role") < order.index("Fn") < order.index("Machine")
    assert order.index("Key") < order.index("Fn")
