"""The advisor function's trigger: the weekly schedule (every configured instance) or an on-demand run."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints


class AdviseRequest(BaseModel):
    """``{"action": "advise"}`` (the schedule: every instance), or ``"db_instance_id": "<id>"`` for one."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["advise"] = "advise"
    db_instance_id: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")] | None = None
