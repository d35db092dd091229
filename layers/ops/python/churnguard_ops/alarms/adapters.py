"""AWS adapters of the router's ports: CloudWatch tags, Lambda, Step Functions, SNS, the idempotency ledger."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from churnguard_ops.core import aws
from churnguard_ops.core.errors import NotFound, OpsError, guarded


class CloudWatchAlarmTags:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def tags(self, alarm_arn: str) -> dict[str, str]:
        answer = guarded(f"list tags of {alarm_arn}", aws.client("cloudwatch", self.region).list_tags_for_resource,
                         ResourceARN=alarm_arn)
        return {t["Key"]: t["Value"] for t in answer.get("Tags", [])}


class LambdaInvoker:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = _invoke(self.region, function_name, "RequestResponse", payload)
        body = answer["Payload"].read()
        result = json.loads(body) if body else {}
        if answer.get("FunctionError"):
            message = result.get("errorMessage", body.decode(errors="replace")) if isinstance(result, dict) else body
            error = result.get("errorType", "Error") if isinstance(result, dict) else "Error"
            raise OpsError(f"{function_name} failed: {error}: {message}")
        if not isinstance(result, dict):
            raise OpsError(f"{function_name} answered {type(result).__name__}, not a JSON object")
        return result

    def invoke_async(self, function_name: str, payload: dict[str, Any]) -> None:
        _invoke(self.region, function_name, "Event", payload)


def _invoke(region: str | None, function_name: str, kind: str, payload: dict[str, Any]) -> Any:
    try:
        return guarded(f"invoke {function_name} ({kind})", aws.client("lambda", region).invoke,
                       FunctionName=function_name, InvocationType=kind,
                       Payload=json.dumps(payload, default=str).encode())
    except OpsError as exc:  # core maps *NotFound codes; Lambda says ResourceNotFoundException
        if "ResourceNotFoundException" in str(exc):
            raise NotFound(str(exc)) from exc
        raise


class StepFunctionsStarter:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        answer = guarded(f"start {state_machine_arn}", aws.client("stepfunctions", self.region).start_execution,
                         stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, default=str))
        return str(answer["executionArn"])


class SnsTopics:
    def __init__(self, region: str | None = None) -> None:
        self.region = region

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        guarded(f"publish to {topic_arn}", aws.client("sns", self.region).publish,
                TopicArn=topic_arn, Subject=subject[:100], Message=message)


class DynamoActionLedger:
    """Powertools idempotency, one record per action key, in the router's table (TTL ``expires_after``)."""

    def __init__(self, table_name: str, expires_after_seconds: int, region: str | None = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

        self.persistence = DynamoDBPersistenceLayer(table_name=table_name,
                                                    boto3_client=aws.client("dynamodb", region))
        self.config = IdempotencyConfig(event_key_jmespath="key", raise_on_no_idempotency_key=True,
                                        expires_after_seconds=expires_after_seconds)

    def register_context(self, context: Any) -> None:
        """With the Lambda context, a record left in progress by a timed-out invocation expires with it."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            self.config.register_lambda_context(context)

    def once(self, key: str, run: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        ran: list[bool] = []

        @idempotent_function(data_keyword_argument="request", persistence_store=self.persistence,
                             config=self.config)
        def action(request: dict[str, str]) -> dict[str, Any]:
            ran.append(True)
            return run()

        result = action(request={"key": key})
        return result, not ran
