"""The performance functions' triggers: their schedules (EventBridge scheduled events) or a manual run.

A report run may carry ``hours`` (1-744) and ``end`` (ISO 8601; default now): the window is the ``hours``
before ``end`` (rounded down to a period boundary).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from churnguard_ops.core.clock import IsoTime


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a scheduled event carries EventBridge's envelope

    hours: int | None = Field(default=None, ge=1, le=744)
    end: IsoTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_schedule(cls, data: Any) -> Any:
        """A scheduled event's own fields (``time``, ``detail``) are not a request: only ``detail`` may carry one."""
        if isinstance(data, dict) and data.get("detail-type") == "Scheduled Event":
            detail = data.get("detail") or {}
            return detail if isinstance(detail, dict) else {}
        return data


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
