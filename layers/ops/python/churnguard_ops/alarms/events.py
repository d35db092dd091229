"""The router's trigger: EventBridge's "CloudWatch Alarm State Change", parsed with Powertools' model."""
from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.alarms.model import AlarmChange, AlarmState


class StateValue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: AlarmState
    reason: str = ""
    timestamp: str = ""


class AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="alarmName", min_length=1)
    state: StateValue
    previous_state: StateValue | None = Field(None, alias="previousState")
    configuration: dict[str, Any] = Field(default_factory=dict)


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


def _dimensions(configuration: dict[str, Any]) -> dict[str, str]:
    """Dimensions of the alarm's metrics (metric-math alarms list several; the first value of a name wins)."""
    found: dict[str, str] = {}
    for metric in configuration.get("metrics") or []:
        stat = metric.get("metricStat") if isinstance(metric, dict) else None
        dims = ((stat or {}).get("metric") or {}).get("dimensions") or {}
        for key, value in dims.items() if isinstance(dims, dict) else ():
            found.setdefault(str(key), str(value))
    return found
