"""The evaluate function's event: which flags (all when absent) for which context."""
from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, ValidationError

from churnguard_ops.core.errors import InvalidEvent
from churnguard_ops.core.flag_document import FLAG_KEY_PATTERN

FlagKey = Annotated[str, StringConstraints(pattern=FLAG_KEY_PATTERN)]


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: None: every flag of the deployed document
    flags: list[FlagKey] | None = Field(None, min_length=1, max_length=100)
    context: dict[str, JsonValue] = Field(default_factory=dict)

    @classmethod
    def parse_event(cls, event: Any) -> EvaluateRequest:
        """InvalidEvent naming the first failing field (``flags.0: ...``) when the event is malformed."""
        if not isinstance(event, dict):
            raise InvalidEvent(f"event: must be an object with flags and context, got {type(event).__name__}")
        try:
            return cls.model_validate(event)
        except ValidationError as error:
            first = error.errors()[0]
            # A key with spaces or symbols percent-encoded, so the field named stays one word (`%20: ...`).
            where = ".".join(quote(str(part), safe="_-") for part in first["loc"]) or "event"
            raise InvalidEvent(f"{where}: {first['msg']}") from None
