"""The router's trigger: EventBridge's "CloudWatch Alarm State Change", parsed with Powertools' model."""
from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.alarms.model import AlarmChange, AlarmState


class StateValue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: AlarmState
    reason: str = ""
    timestamp: str = ""


class MetricIdentity(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricStat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric: MetricIdentity = Field(default_factory=MetricIdentity)


class AlarmMetric(BaseModel):
    """One entry of ``configuration.metrics``: a metric (``metricStat``) or a metric-math ``expression``."""

    model_config = ConfigDict(extra="ignore")

    metric_stat: MetricStat | None = Field(None, alias="metricStat")


class AlarmConfiguration(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metrics: list[AlarmMetric] = Field(default_factory=list)


class AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="alarmName", min_length=1)
    state: StateValue
    previous_state: StateValue | None = Field(None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)


class AlarmStateChangeEvent(EventBridgeModel):
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    source: Literal["aws.cloudwatch"]
    resources: list[str] = Field(min_length=1)
    detail: AlarmDetail

    def change(self) -> AlarmChange:
        d = self.detail
        return AlarmChange(event_id=self.id, name=d.alarm_name, arn=self.resources[0], state=d.state.value,
                           previous_state=d.previous_state.value if d.previous_state else None,
                           reason=d.state.reason, time=d.state.timestamp or self.time.isoformat(),
                           dimensions=_dimensions(d.configuration))


def _dimensions(configuration: AlarmConfiguration) -> dict[str, str]:
    """Dimensions of the alarm's metrics (metric-math alarms list several; the first value of a name wins)."""
    found: dict[str, str] = {}
    for metric in configuration.metrics:
        if metric.metric_stat is not None:
            for key, value in metric.metric_stat.metric.dimensions.items():
                found.setdefault(key, value)
    return found
