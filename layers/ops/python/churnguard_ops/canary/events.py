"""The alarm path: a CloudWatch "Alarm State Change" EventBridge event aborts the release it gates."""
from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field


class AlarmStateValue(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str
    reason: str = ""


class AlarmStateChangeDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="alarmName")
    state: AlarmStateValue
    previous_state: AlarmStateValue | None = Field(None, alias="previousState")


class AlarmStateChange(EventBridgeModel):
    detail: AlarmStateChangeDetail
