"""The security functions' triggers: SQS batches of EventBridge events, alerts, schedule ticks.

The analyzer's SQS records are parsed per record (``sources.to_events``) inside Powertools' batch
processor, so one malformed record never fails the batch. The remediation and report functions
receive EventBridge events, validated here.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core import contracts


class AlertEvent(EventBridgeModel):
    """A security alert as published on EventBridge (``detail`` is ``Alert.line()``)."""

    source: Literal[contracts.SECURITY_EVENT_SOURCE]  # type: ignore[valid-type]
    detail_type: Literal[contracts.SECURITY_ALERT_DETAIL_TYPE] = Field(  # type: ignore[valid-type]
        alias="detail-type")
    detail: dict[str, Any]


class SweepTick(BaseModel):
    """The hourly schedule of the remediation function: ``{"action": "sweep"}``."""

    model_config = ConfigDict(extra="ignore")

    action: Literal["sweep"]


class ReportRequest(BaseModel):
    """The weekly schedule (``{"action": "report"}``: the week that ended last Monday 00:00 UTC), or a
    manual run for a given week: ``{"action": "report", "week_start": "2026-11-23"}`` (a Monday)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["report"] = "report"
    week_start: date | None = None
