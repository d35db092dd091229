"""The cost report function's trigger: the weekly schedule, or a manual run with its own lookback."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ReportRequest(BaseModel):
    """``{"action": "report"}`` (the schedule), optionally ``"lookback_days": N`` (1-63) for a manual run."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["report"] = "report"
    lookback_days: int | None = Field(default=None, ge=1, le=63)
