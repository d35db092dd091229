"""CloudWatch alarms that evaluate their metrics in the embedded AWS.

moto 5.2 stores alarms but never evaluates them: an alarm on ``AWS/Lambda Errors`` stays in its
state whatever the function does, and a new alarm starts in ``OK`` (AWS: ``INSUFFICIENT_DATA``,
reason "Unchecked: Initial alarm creation").

- ``InitialAlarmState`` (middleware on PutMetricAlarm): a newly created alarm starts in
  INSUFFICIENT_DATA, as on AWS. Written into moto's alarm object, because the public API can only
  change a state with SetAlarmState, which is a state change (and emits its event); creating an
  alarm is not one.
- ``AlarmEvaluator``: evaluates every metric alarm of a region from its metric, through the public
  API (GetMetricData, percentiles included; SetAlarmState when the state changes, so the
  "CloudWatch Alarm State Change" event is emitted as for any other change). Call ``evaluate()``
  for one deterministic pass, or ``start(interval_seconds)`` for a background loop (a demo).

Evaluation (a simplification of CloudWatch's, documented here so tests can rely on it): the last
``EvaluationPeriods`` periods of ``Period`` seconds ending now (a sliding window, so a demo need
not wait for period boundaries); ALARM when at least ``DatapointsToAlarm`` (default
EvaluationPeriods) of them breach the threshold; missing periods per ``TreatMissingData``
(``breaching`` / ``notBreaching`` count as such; ``missing`` and ``ignore`` skip them; with no
data at all, ``missing`` gives INSUFFICIENT_DATA and ``ignore`` keeps the state); otherwise OK.
Composite alarms and anomaly-detection thresholds are not evaluated.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .awsapi import AwsRequest, StartResponse, WsgiApp, call_app
from .background import Repeating
from .lambda_runtime import DEFAULT_ACCOUNT_ID

__all__ = ["AlarmEvaluator", "AlarmTransition", "InitialAlarmState"]

ClientFactory = Callable[[str, str], Any]

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True)
class AlarmTransition:
    alarm_name: str
    previous: str
    state: str
    reason: str


class InitialAlarmState:
    """PutMetricAlarm of a new alarm: it starts INSUFFICIENT_DATA (moto: OK)."""

    def __init__(self, clients: ClientFactory, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._clients = clients
        self.account_id = account_id

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def middleware(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET")
            if target == "GraniteServiceVersion20100801.PutMetricAlarm" or (
                not target and environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "/") == "/"
            ):
                request = AwsRequest.read(environ)
                if request.service == "monitoring" and request.operation == "PutMetricAlarm":
                    return self._put_metric_alarm(app, request, environ, start_response)
            return app(environ, start_response)

        return middleware

    def _put_metric_alarm(
        self, app: WsgiApp, request: AwsRequest, environ: dict[str, Any], start_response: StartResponse
    ) -> list[bytes]:
        region = request.region or "us-east-1"
        name = request.params.get("AlarmName")
        existed = bool(name) and bool(self._clients("cloudwatch", region).describe_alarms(
            AlarmNames=[name]).get("MetricAlarms"))
        response = call_app(app, environ)
        if response.code < 300 and name and not existed:
            from moto.cloudwatch.models import cloudwatch_backends  # no public API sets an initial state

            alarm = cloudwatch_backends[self.account_id][region].alarms.get(name)
            if alarm is not None:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = "Unchecked: Initial alarm creation"
        return response.replay(start_response)


class AlarmEvaluator:
    def __init__(self, clients: ClientFactory, regions: Iterable[str]) -> None:
        self._clients = clients
        self.regions = list(regions)
        self.transitions: list[AlarmTransition] = []
        self._loop = Repeating("alarm-evaluator", self.evaluate)
        self._lock = threading.Lock()

    # -- background loop -----------------------------------------------------------------
    def start(self, interval_seconds: float = 10.0) -> AlarmEvaluator:
        self._loop.start(interval_seconds)
        return self

    def stop(self) -> None:
        self._loop.stop()

    # -- one pass ------------------------------------------------------------------------
    def evaluate(self, now: dt.datetime | None = None) -> list[AlarmTransition]:
        """Evaluate every metric alarm once; set (and return) the states that changed."""
        now = now or dt.datetime.now(dt.timezone.utc)
        changed = []
        with self._lock:
            for region in self.regions:
                cloudwatch = self._clients("cloudwatch", region)
                for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
                    for alarm in page.get("MetricAlarms", []):
                        transition = self._evaluate(cloudwatch, alarm, now)
                        if transition is not None:
                            changed.append(transition)
            self.transitions.extend(changed)
        return changed

    def _evaluate(self, cloudwatch: Any, alarm: Mapping[str, Any], now: dt.datetime) -> AlarmTransition | None:
        compare = _COMPARE.get(alarm.get("ComparisonOperator", ""))
        queries, period = _queries(alarm)
        if compare is None or not queries or not period or alarm.get("Threshold") is None:
            return None
        periods = int(alarm.get("EvaluationPeriods") or 1)
        needed = int(alarm.get("DatapointsToAlarm") or periods)
        threshold = float(alarm["Threshold"])
        results = cloudwatch.get_metric_data(
            StartTime=now - dt.timedelta(seconds=periods * period), EndTime=now + dt.timedelta(seconds=1),
            MetricDataQueries=queries, ScanBy="TimestampAscending")["MetricDataResults"]
        returned = [r for r in results if r.get("Id") != alarm.get("ThresholdMetricId")]
        if not returned:
            return None
        points = list(zip(returned[0].get("Timestamps", []), returned[0].get("Values", []), strict=False))[-periods:]
        missing = periods - len(points)
        treat = alarm.get("TreatMissingData") or "missing"
        breaching = [(t, v) for t, v in points if compare(float(v), threshold)]
        breaches = len(breaching) + (missing if treat == "breaching" else 0)
        evaluated = len(points) + (missing if treat in ("breaching", "notBreaching") else 0)
        current = alarm.get("StateValue")
        if evaluated == 0:
            if treat == "ignore":
                return None
            state, reason = "INSUFFICIENT_DATA", f"Insufficient Data: {periods} datapoints were unknown."
        else:
            state = "ALARM" if breaches >= needed else "OK"
            shown = ", ".join(f"{float(v)} ({_when(t)})" for t, v in (breaching if state == "ALARM" else points))
            verb = "was" if state == "ALARM" else "was not"
            reason = (f"Threshold Crossed: {breaches} out of the last {periods} datapoints [{shown}] {verb} "
                      f"{_WORDS[alarm['ComparisonOperator']]} the threshold ({threshold}) (minimum {needed} "
                      f"datapoint{'s' if needed != 1 else ''} for OK -> ALARM transition).")
        if state == current:
            return None
        reason_data = json.dumps({"version": "1.0", "queryDate": _when(now), "statistic": alarm.get("Statistic"),
                                  "period": period, "recentDatapoints": [float(v) for _, v in points],
                                  "threshold": threshold, "evaluatedDatapoints": [
                                      {"timestamp": _when(t), "value": float(v)} for t, v in points]})
        cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason[:1023],
                                   StateReasonData=reason_data)
        return AlarmTransition(alarm["AlarmName"], str(current), state, reason)


def _queries(alarm: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int]:
    if alarm.get("MetricName"):
        stat: dict[str, Any] = {
            "Metric": {"Namespace": alarm.get("Namespace"), "MetricName": alarm["MetricName"],
                       "Dimensions": alarm.get("Dimensions") or []},
            "Period": int(alarm.get("Period") or 60),
            "Stat": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
        }
        if alarm.get("Unit"):
            stat["Unit"] = alarm["Unit"]
        return [{"Id": "m", "MetricStat": stat, "ReturnData": True}], stat["Period"]
    queries = [dict(q) for q in alarm.get("Metrics") or []]
    period = next((int(q["MetricStat"]["Period"]) for q in queries if q.get("MetricStat")), 0) or int(
        next((q.get("Period") for q in queries if q.get("Period")), 0) or 0)
    for query in queries:
        query.pop("AccountId", None)
    # only the query the alarm watches is returned (and the threshold band, when there is one)
    return queries, period


def _when(moment: Any) -> str:
    if isinstance(moment, dt.datetime):
        value = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return str(moment)
