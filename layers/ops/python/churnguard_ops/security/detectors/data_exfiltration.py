"""data_exfiltration: many exports by one user within a window, or one very large export."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.model import Event

from .base import DETECTORS, DetectorContext, Finding
from .windowed import WindowedCountDetector, WindowedCountParams


class DataExfiltrationParams(WindowedCountParams):
    threshold: int = Field(default=3, ge=1, description="exports by one user within the window that alert")
    window_seconds: int = Field(default=1800, ge=1, le=7 * 24 * 3600)
    type_contains: str = Field(default="export", min_length=1,
                               description="an event is an export when its type contains this (case-insensitive)")
    max_export_mb: float = Field(default=100.0, ge=0, description="one export larger than this alerts on its own")
    allow_users: list[str] = Field(default_factory=list, description="user ids never judged (scheduled exporters)")


@DETECTORS.register
class DataExfiltration(WindowedCountDetector):
    """Many exports by one user within a window (``threshold`` in ``window_seconds``), or one very large export.

    Qualifies: at least ``threshold`` exports by one ``user_id`` within ``window_seconds``, OR one
    export with ``details.export_size_mb`` above ``max_export_mb``. An export is an application event
    whose type contains ``type_contains`` (``data_export``, ``bulk_export``, ``report_exported``...). The
    window for an export at t is (t - window, t], itself included. The size is a number (or numeric
    text) in MB; strictly above the limit alerts. One alert per triggering export even when both
    conditions hold (``context.reasons`` lists them). Entity: the
    user id; exports without one are not judged.

    Example::

        {"detector": "data_exfiltration", "params": {"threshold": 3, "window_seconds": 1800,
                                                      "max_export_mb": 100}}
    """

    name = "data_exfiltration"
    Params: ClassVar[type[PluginParams]] = DataExfiltrationParams
    severity = "critical"
    recommended_action = "Suspend the user's export permission and review what was exported"
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, DataExfiltrationParams)
        self.marker = self.params.type_contains.lower()
        self.max_mb = self.params.max_export_mb
        self.allowed = frozenset(self.params.allow_users)

    def applies(self, event: Event) -> bool:
        return event.kind == "app" and self.marker in event.type.lower()

    def entity_of(self, event: Event) -> str | None:
        user = event.user_id
        return user if user and user not in self.allowed else None

    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        entity = self.entity_of(event)
        if not entity:
            return []
        findings = self.count(event, entity, ctx)
        size = _megabytes(event.details.get("export_size_mb"))
        large = size is not None and size > self.max_mb
        own = next((f for f in findings if f.event_id == event.event_id), None)
        if own is not None:
            reasons = ["many_exports"] + (["large_export"] if large else [])
            findings[findings.index(own)] = replace(own, context={**own.context, "reasons": reasons,
                                                                  "export_size_mb": size})
        elif large:
            findings.append(Finding(entity=entity, event_id=event.event_id, time=event.time, count=1,
                                    window_seconds=0, organization_id=event.organization_id,
                                    context={"reasons": ["large_export"], "export_size_mb": size,
                                             "max_export_mb": self.max_mb}))
        return findings


def _megabytes(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

