"""The detection engine: events in, alerts out, on event time only.

``Engine.process(event)`` runs every configured detector whose pre-filter accepts the event, then lets
each finding through three gates, in this order:

1. **suppression**: an allowlist entry whose ``detector`` matches (or is ``*``), whose ``entity``
   pattern matches the finding's entity (shell-style: ``203.0.113.*``), and that has not expired at the
   triggering event's time (``expires_at`` compared with event time, so a replay of last month applies
   last month's allowlist). Expired entries are ignored.
2. **dedup**: one alert per (detector, entity) per ``dedup_seconds`` of event time: a finding is refused
   when an alert for the same pair was granted within ``dedup_seconds`` of it, either side (a late event
   cannot add a second alert to a window). ``0``: every finding alerts. A redelivered event re-yields
   the alert it raised before (same ``alert_id``), so a crash between processing and publishing loses
   nothing and a store that writes conditionally on ``alert_id`` keeps one copy.
3. the alert is built (severity and recommended action from the detector).

Lateness: an event more than ``lateness_seconds`` older than the newest one its key (the memory
state: the stream) has seen is neither counted nor judged by stateful detectors; within it, the
windowed detectors give the same detections as in order (see ``detectors/windowed.py``). Stateless
detectors judge every event, however late.

The wall clock is never read: windows, dedup, suppression expiry and lateness all use event times.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core.clock import IsoTime
from churnguard_ops.security.detectors import DEFAULT_DETECTORS, DETECTORS, Detector, DetectorContext, Finding
from churnguard_ops.security.model import Alert, Event
from churnguard_ops.security.ports import DetectorState

DEFAULT_DEDUP_SECONDS = 3600
DEFAULT_LATENESS_SECONDS = 900


class DetectorSpec(BaseModel):
    """One configured detector: ``{"detector": "brute_force_login", "params": {"threshold": 10}}``."""

    model_config = ConfigDict(extra="forbid")

    detector: str
    params: dict[str, Any] = Field(default_factory=dict)


class Suppression(BaseModel):
    """An allowlist entry: findings of ``detector`` (``*``: any) for entities matching ``entity`` (shell
    pattern) do not alert until ``expires_at`` (event time). ``reason`` says why, for the audit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str = Field(min_length=1)
    entity: str = Field(min_length=1)
    expires_at: IsoTime
    reason: str = Field(min_length=3)

    def matches(self, detector: str, entity: str, at: datetime) -> bool:
        return (self.detector in ("*", detector) and at < self.expires_at
                and fnmatch.fnmatchcase(entity, self.entity))


@dataclass
class EngineStats:
    events: int = 0
    findings: int = 0
    alerts: int = 0
    suppressed: int = 0
    deduplicated: int = 0
    by_detector: dict[str, int] = field(default_factory=dict)


def build_detectors(specs: Iterable[DetectorSpec | Mapping[str, Any] | str] | None = None) -> list[Detector]:
    """Detectors from configuration (names or specs); None: the defaults. Raises PluginSpecError."""
    detectors: list[Detector] = []
    for spec in DEFAULT_DETECTORS if specs is None else specs:
        if isinstance(spec, str):
            spec = DetectorSpec(detector=spec)
        elif not isinstance(spec, DetectorSpec):
            spec = DetectorSpec.model_validate(spec)
        cls = DETECTORS.lookup(spec.detector)
        detectors.append(cls(DETECTORS.validate(spec.detector, spec.params)))
    names = [d.name for d in detectors]
    if len(set(names)) != len(names):
        raise ValueError(f"a detector is configured twice: {sorted({n for n in names if names.count(n) > 1})}")
    return detectors


class Engine:
    def __init__(self, detectors: Sequence[Detector], state: DetectorState, *,
                 dedup_seconds: float = DEFAULT_DEDUP_SECONDS, suppressions: Iterable[Suppression] = (),
                 lateness_seconds: float = DEFAULT_LATENESS_SECONDS) -> None:
        if dedup_seconds < 0 or lateness_seconds < 0:
            raise ValueError("dedup_seconds and lateness_seconds must be >= 0")
        self.detectors = list(detectors)
        self.state = state
        self.dedup_seconds = float(dedup_seconds)
        self.lateness_seconds = float(lateness_seconds)
        self.suppressions = list(suppressions)
        self.ctx = DetectorContext(state=state, lateness_seconds=self.lateness_seconds)
        self.stats = EngineStats(by_detector={d.name: 0 for d in self.detectors})

    def process(self, event: Event) -> list[Alert]:
        self.stats.events += 1
        alerts: list[Alert] = []
        for detector in self.detectors:
            if not detector.applies(event):
                continue
            for finding in detector.evaluate(event, self.ctx):
                alert = self._admit(detector, finding)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def process_many(self, events: Iterable[Event]) -> list[Alert]:
        return [alert for event in events for alert in self.process(event)]

    def _admit(self, detector: Detector, finding: Finding) -> Alert | None:
        self.stats.findings += 1
        name = detector.name
        if self.suppressions and any(s.matches(name, finding.entity, finding.time) for s in self.suppressions):
            self.stats.suppressed += 1
            return None
        if self.dedup_seconds and not self.state.claim_alert(
                f"{name}|{finding.entity}", finding.event_id, finding.time.timestamp(),
                dedup_seconds=self.dedup_seconds, lateness_seconds=self.lateness_seconds):
            self.stats.deduplicated += 1
            return None
        self.stats.alerts += 1
        self.stats.by_detector[name] = self.stats.by_detector.get(name, 0) + 1
        return Alert(alert_id=Alert.make_id(name, finding.entity, finding.event_id), detector=name,
                     severity=detector.severity, entity=finding.entity, count=finding.count,
                     window_seconds=finding.window_seconds, event_id=finding.event_id, timestamp=finding.time,
                     recommended_action=detector.recommended_action, organization_id=finding.organization_id,
                     context=finding.context)
