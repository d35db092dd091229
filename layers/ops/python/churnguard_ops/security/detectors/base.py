"""Detector building blocks: the Detector plugin kind, its verdict (Finding) and what it may use.

A detector is a plugin (:mod:`churnguard_ops.core.registry`): one class in one module with a ``name``,
a pydantic ``Params`` (extra=forbid), a ``severity``, a ``recommended_action``, a docstring with an
example and ``permissions = ()`` (detectors only read events; remediation is another plugin kind).

``applies(event)`` is a cheap pre-filter (the engine calls it for every event and detector);
``evaluate(event, ctx)`` returns findings: usually none or one for the event itself, but a windowed rule
may also return findings for events recorded earlier whose window a late event has just completed
(see :mod:`.windowed`). The engine turns findings into alerts after suppression and dedup.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

from churnguard_ops.core.registry import Plugin, PluginParams, PluginRegistry
from churnguard_ops.security.model import Event, Severity
from churnguard_ops.security.ports import DetectorState

__all__ = ["DETECTORS", "DetectorContext", "Detector", "Finding", "as_time"]


@dataclass(frozen=True, slots=True)
class DetectorContext:
    """What a detector may use besides the event: the state port and the engine's lateness."""

    state: DetectorState
    lateness_seconds: float


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's verdict on one (triggering) event: the raw material of an alert."""

    entity: str
    event_id: str
    time: datetime
    count: int = 1
    window_seconds: int = 0
    organization_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


class Detector(Plugin, ABC):
    """Base of every detector. Subclasses set ``name``, ``Params``, ``severity``, ``recommended_action``."""

    severity: ClassVar[Severity]
    recommended_action: ClassVar[str]
    Params: ClassVar[type[PluginParams]] = PluginParams

    def __init__(self, params: PluginParams | Mapping[str, Any] | None = None) -> None:
        if not isinstance(params, PluginParams):
            params = DETECTORS.validate(self.name, params)
        self.params = params

    def applies(self, event: Event) -> bool:
        """Cheap pre-filter: could this event matter to the detector at all?"""
        return event.kind == "app"

    @abstractmethod
    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        ...


#: Every detector, by name. ``opsctl plugins list --kind detector`` documents them.
DETECTORS: PluginRegistry[Detector] = PluginRegistry("detector")


def as_time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
