"""EventBridge routing in the embedded AWS: events reach their rules' targets, including in-process Lambdas.

What moto 5.2 does with PutEvents: it matches every rule of the bus (ignoring the rule's State),
delivers to SQS, CloudWatch Logs, archives and other buses itself, and raises NotImplementedError
(an HTTP 500 for the caller) as soon as a matching rule has a Lambda or Step Functions target.
``Input`` and ``InputPath`` are ignored. And no AWS service in moto emits its own events (an
alarm changing state emits nothing).

``EventBridgeRouter`` answers PutEvents itself, at the public API (a WSGI middleware on
``AWSEvents.PutEvents``):

- the rules come from the control plane through the public API (ListRules, ListTargetsByRule), so
  rules created by ``deploy.py`` from the synthesized templates, by PutRule, or by CloudFormation
  all route; only ENABLED rules with an EventPattern match;
- the pattern is matched by moto's own matcher (``moto.events.models.EventPattern``, used as a
  library: prefix, suffix, anything-but, numeric, exists, wildcard, $or);
- each target receives ``Input``, ``InputPath`` or ``InputTransformer`` applied to the event, or
  the event itself, through the target's public API: Lambda (Invoke, InvocationType Event: the
  in-process handler runs in the background, with alias routing when the ARN has a qualifier), SQS
  (SendMessage, MessageGroupId from SqsParameters), Step Functions (StartExecution), SNS (Publish),
  CloudWatch Logs (PutLogEvents) and another event bus (PutEvents);
- each delivery is recorded in ``deliveries`` (what was sent where, or why it failed); a failed
  delivery never fails PutEvents, as on AWS where delivery is asynchronous.

``AlarmStateChangeEvents`` (a middleware on CloudWatch SetAlarmState) makes CloudWatch emit
"CloudWatch Alarm State Change" to the default bus when an alarm's state changes, shaped as AWS
sends it. Other services can emit their events with ``EventBridgeRouter.emit``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .awsapi import AwsRequest, StartResponse, WsgiApp, call_app, json_error, respond
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = [
    "AlarmStateChangeEvents",
    "Delivery",
    "EventBridgeRouter",
    "alarm_state_change_event",
    "json_path",
    "render_input",
]

_log = logging.getLogger(__name__)
ClientFactory = Callable[[str, str], Any]
_MAX_BUS_HOPS = 5  # bus -> bus forwarding depth (AWS refuses loops; we stop them)


@dataclass(frozen=True)
class Delivery:
    rule_arn: str
    target_id: str
    target_arn: str
    event_id: str
    input: str
    error: str | None = None


# --------------------------------------------------------------------------------------
# Input, InputPath, InputTransformer
# --------------------------------------------------------------------------------------
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_MISSING = object()


def json_path(document: Any, path: str) -> Any:
    """EventBridge's JSONPath subset: ``$``, ``$.a.b``, ``$.a[0]``, ``$['a.b']``; a missing path gives None."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSONPath: {path!r}")
    node, position = document, 1
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise ValueError(f"unsupported JSONPath: {path!r}")
        position = match.end()
        key, index, quoted, double = match.groups()
        if index is not None:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else _MISSING
        else:
            name = key if key is not None else quoted if quoted is not None else double
            node = node.get(name, _MISSING) if isinstance(node, Mapping) else _MISSING
        if node is _MISSING:
            return None
    return node


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def render_input(target: Mapping[str, Any], event: Mapping[str, Any], rule_name: str = "", rule_arn: str = "") -> str:
    """The text a target receives for ``event`` (AWS semantics of Input / InputPath / InputTransformer)."""
    if "Input" in target and target["Input"] is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(json_path(event, target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.update({
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": event.get("time"),
            "aws.events.event": event,
            "aws.events.event.json": event,
        })
        return _fill_template(transformer.get("InputTemplate", ""), values)
    return json.dumps(event)


def _fill_template(template: str, values: Mapping[str, Any]) -> str:
    """Replace ``<name>``: inside a JSON string, by the value's text (escaped); elsewhere in a JSON
    template, by the value as JSON (a string gets its quotes); in a plain-text template, by its text."""
    is_json = template.lstrip()[:1] in ("{", "[", '"')
    out, last = [], 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        out.append(template[last:match.start()])
        value = values[name]
        if is_json and _inside_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1])
        elif is_json:
            out.append(json.dumps(value))
        else:
            out.append(value if isinstance(value, str) else json.dumps(value))
        last = match.end()
    out.append(template[last:])
    return "".join(out)


def _inside_string(text: str, position: int) -> bool:
    inside, escaped = False, False
    for char in text[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


# --------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------
def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(value: Any) -> str:
    if isinstance(value, (int, float)):
        return _iso(dt.datetime.fromtimestamp(value, tz=dt.timezone.utc))
    if isinstance(value, str) and value:
        try:
            return _iso(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return _iso(dt.datetime.now(dt.timezone.utc))


class EventBridgeRouter:
    """PutEvents answered here; events matched to rules and delivered to targets (see module doc)."""

    def __init__(self, clients: ClientFactory, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._clients = clients
        self.account_id = account_id
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self.enabled = True

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            if self.enabled and environ.get("HTTP_X_AMZ_TARGET") == "AWSEvents.PutEvents":
                request = AwsRequest.read(environ)
                return self._put_events(request, start_response)
            return app(environ, start_response)

        return middleware

    def clear(self) -> None:
        with self._lock:
            self.deliveries.clear()

    def deliveries_to(self, target_arn_fragment: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if target_arn_fragment in d.target_arn]

    # -- PutEvents -----------------------------------------------------------------------
    def _put_events(self, request: AwsRequest, start_response: StartResponse) -> list[bytes]:
        entries = request.params.get("Entries") or []
        if not isinstance(entries, list) or not 1 <= len(entries) <= 10:
            return json_error(start_response, "400 Bad Request", "ValidationException",
                              "1 validation error detected: Value at 'entries' failed to satisfy constraint: "
                              "Member must have length less than or equal to 10")
        region = request.region or "us-east-1"
        results = [self._put_entry(region, entry) for entry in entries]
        failed = sum(1 for r in results if "ErrorCode" in r)
        return respond(start_response, "200 OK", {"FailedEntryCount": failed, "Entries": results},
                       content_type="application/x-amz-json-1.1")

    def _put_entry(self, region: str, entry: Mapping[str, Any], hops: int = 0) -> dict[str, Any]:
        for field, name in (("Source", "Source"), ("DetailType", "DetailType"), ("Detail", "Detail")):
            if not entry.get(field):
                return {"ErrorCode": "InvalidArgument",
                        "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is a required argument."}
        try:
            detail = json.loads(entry["Detail"])
        except (TypeError, ValueError):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
        if not isinstance(detail, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
        bus_region, bus = self._bus(entry.get("EventBusName"), region)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": self.account_id,
            "time": _event_time(entry.get("Time")),
            "region": bus_region,
            "resources": list(entry.get("Resources") or []),
            "detail": detail,
        }
        try:
            self.route(bus_region, bus, event, hops=hops)
        except LookupError as exc:
            return {"ErrorCode": "ResourceNotFoundException", "ErrorMessage": str(exc)}
        return {"EventId": event["id"]}

    @staticmethod
    def _bus(name_or_arn: str | None, region: str) -> tuple[str, str]:
        if not name_or_arn:
            return region, "default"
        if name_or_arn.startswith("arn:"):
            parts = name_or_arn.split(":")
            return parts[3] or region, parts[5].split("/", 1)[-1]
        return region, name_or_arn

    # -- routing -------------------------------------------------------------------------
    def emit(self, region: str, event: Mapping[str, Any], bus: str = "default") -> None:
        """Route an event an AWS service emits (full envelope: source aws.*, detail-type, detail, ...)."""
        try:
            self.route(region, bus, event)
        except Exception:  # noqa: BLE001 - an emitting service never fails because of its events
            _log.exception("could not route %s event", event.get("detail-type"))

    def route(self, region: str, bus: str, event: Mapping[str, Any], hops: int = 0) -> list[Delivery]:
        """Deliver ``event`` to the targets of every ENABLED rule of ``bus`` whose pattern matches it."""
        from moto.events.models import EventPattern  # moto's matcher, used as a library

        events = self._clients("events", region)
        done: list[Delivery] = []
        for rule in self._rules(events, bus):
            if rule.get("State", "ENABLED") != "ENABLED" or not rule.get("EventPattern"):
                continue
            try:
                matches = EventPattern.load(rule["EventPattern"]).matches_event(dict(event))  # type: ignore[arg-type]
            except Exception:  # noqa: BLE001 - a pattern moto cannot read matches nothing
                _log.warning("rule %s: unreadable event pattern", rule.get("Name"))
                continue
            if not matches:
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", [])
            for target in targets:
                done.append(self._deliver(region, rule, target, event, hops))
        return done

    def _rules(self, events: Any, bus: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"EventBusName": bus}
        while True:
            try:
                page = events.list_rules(**kwargs)
            except events.exceptions.ResourceNotFoundException as exc:
                raise LookupError(f"Event bus {bus} does not exist.") from exc
            rules.extend(page.get("Rules", []))
            if not page.get("NextToken"):
                return rules
            kwargs["NextToken"] = page["NextToken"]

    def _deliver(
        self, region: str, rule: Mapping[str, Any], target: Mapping[str, Any], event: Mapping[str, Any], hops: int
    ) -> Delivery:
        arn = str(target.get("Arn", ""))
        text = render_input(target, event, rule.get("Name", ""), rule.get("Arn", ""))
        error = None
        try:
            self._send(region, arn, target, event, text, hops)
        except Exception as exc:  # noqa: BLE001 - recorded; AWS would retry, then use the target's DLQ
            error = f"{type(exc).__name__}: {exc}"
            _log.warning("rule %s -> %s: %s", rule.get("Name"), arn, error)
        delivery = Delivery(str(rule.get("Arn", "")), str(target.get("Id", "")), arn, str(event.get("id", "")),
                            text, error)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _send(self, region: str, arn: str, target: Mapping[str, Any], event: Mapping[str, Any], text: str,
              hops: int) -> None:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            raise ValueError(f"not an ARN: {arn!r}")
        service, target_region, account, resource = parts[2], parts[3] or region, parts[4], parts[5]
        if service == "lambda":
            self._clients("lambda", target_region).invoke(
                FunctionName=arn, InvocationType="Event", Payload=_as_json_payload(text).encode())
        elif service == "sqs":
            sqs = self._clients("sqs", target_region)
            url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
            message: dict[str, Any] = {"QueueUrl": url, "MessageBody": text}
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:
                message["MessageGroupId"] = group
                message["MessageDeduplicationId"] = str(uuid.uuid4())
            sqs.send_message(**message)
        elif service == "states":
            self._clients("stepfunctions", target_region).start_execution(
                stateMachineArn=arn, input=_as_json_payload(text))
        elif service == "sns":
            self._clients("sns", target_region).publish(TopicArn=arn, Message=text)
        elif service == "logs" and resource.startswith("log-group:"):
            group = resource.removeprefix("log-group:").removesuffix(":*")
            logs = self._clients("logs", target_region)
            stream = str(uuid.uuid4())
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            now_ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
            logs.put_log_events(logGroupName=group, logStreamName=stream,
                                logEvents=[{"timestamp": now_ms, "message": text}])
        elif service == "events" and resource.startswith("event-bus/"):
            if hops >= _MAX_BUS_HOPS:
                raise RuntimeError("event forwarded across too many buses (a loop?)")
            self.route(target_region, resource.removeprefix("event-bus/"), event, hops=hops + 1)
        else:
            raise NotImplementedError(f"target type {service}:{resource.split('/', 1)[0]} is not routed locally")


def _as_json_payload(text: str) -> str:
    """Lambda and Step Functions take JSON: a plain-text input arrives as a JSON string."""
    try:
        json.loads(text)
        return text
    except ValueError:
        return json.dumps(text)


# --------------------------------------------------------------------------------------
# CloudWatch Alarm State Change
# --------------------------------------------------------------------------------------
def _alarm_time(value: Any) -> str:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _state(alarm: Mapping[str, Any]) -> dict[str, Any]:
    state = {"value": alarm.get("StateValue"), "reason": alarm.get("StateReason", ""),
             "timestamp": _alarm_time(alarm.get("StateUpdatedTimestamp"))}
    if alarm.get("StateReasonData"):
        state["reasonData"] = alarm["StateReasonData"]
    return state


def _metric_stat(metric: Mapping[str, Any], period: Any, stat: Any, unit: Any = None) -> dict[str, Any]:
    stat_out: dict[str, Any] = {
        "metric": {"namespace": metric.get("Namespace"), "name": metric.get("MetricName"),
                   "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}},
        "period": period,
        "stat": stat,
    }
    if unit:
        stat_out["unit"] = unit
    return stat_out


def _configuration(alarm: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if alarm.get("AlarmDescription"):
        config["description"] = alarm["AlarmDescription"]
    if alarm.get("AlarmRule"):  # a composite alarm
        config["alarmRule"] = alarm["AlarmRule"]
        return config
    metrics = []
    if alarm.get("MetricName"):
        metrics.append({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, str(alarm.get("AlarmArn", "")))),
            "metricStat": _metric_stat(alarm, alarm.get("Period"),
                                       alarm.get("Statistic") or alarm.get("ExtendedStatistic"), alarm.get("Unit")),
            "returnData": True,
        })
    for query in alarm.get("Metrics") or []:
        item: dict[str, Any] = {"id": query.get("Id"), "returnData": query.get("ReturnData", True)}
        if query.get("Label"):
            item["label"] = query["Label"]
        if query.get("Expression"):
            item["expression"] = query["Expression"]
        if query.get("MetricStat"):
            stat = query["MetricStat"]
            item["metricStat"] = _metric_stat(stat.get("Metric", {}), stat.get("Period"), stat.get("Stat"),
                                              stat.get("Unit"))
        metrics.append(item)
    config["metrics"] = metrics
    return config


def alarm_state_change_event(
    previous: Mapping[str, Any], current: Mapping[str, Any], region: str, account_id: str = DEFAULT_ACCOUNT_ID
) -> dict[str, Any]:
    """The event CloudWatch sends to the default bus when an alarm changes state (DescribeAlarms shapes in)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account_id,
        "time": _iso(dt.datetime.now(dt.timezone.utc)),
        "region": region,
        "resources": [current.get("AlarmArn")],
        "detail": {
            "alarmName": current.get("AlarmName"),
            "state": _state(current),
            "previousState": _state(previous),
            "configuration": _configuration(current),
        },
    }


class AlarmStateChangeEvents:
    """CloudWatch SetAlarmState (JSON or query protocol): when the state changes, emit the event."""

    _TARGETS = {"GraniteServiceVersion20100801.SetAlarmState"}

    def __init__(self, clients: ClientFactory, router: EventBridgeRouter) -> None:
        self._clients = clients
        self.router = router

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET")
            if target in self._TARGETS or (not target and environ.get("REQUEST_METHOD") == "POST"
                                           and environ.get("PATH_INFO", "/") == "/"):
                request = AwsRequest.read(environ)
                if request.service == "monitoring" and request.operation == "SetAlarmState":
                    return self._set_alarm_state(app, request, environ, start_response)
            return app(environ, start_response)

        return middleware

    def _set_alarm_state(
        self, app: WsgiApp, request: AwsRequest, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        region = request.region or "us-east-1"
        name = request.params.get("AlarmName")
        before = self._alarm(region, name) if name else None
        response = call_app(app, environ)
        if response.code < 300 and before is not None:
            after = self._alarm(region, name)
            if after is not None and after.get("StateValue") != before.get("StateValue"):
                self.router.emit(region, alarm_state_change_event(before, after, region))
        return response.replay(start_response)

    def _alarm(self, region: str, name: str | None) -> dict[str, Any] | None:
        answer = self._clients("cloudwatch", region).describe_alarms(AlarmNames=[name])
        alarms = answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
        return alarms[0] if alarms else None
