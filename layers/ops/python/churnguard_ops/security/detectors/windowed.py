"""The windowed-count rule, shared by every "at least N events of one entity within W seconds" detector.

For an event at time t the window is (t - W, t], the event included. An event *qualifies* when at
least ``threshold`` events of its entity (itself included, ties at t included) fall in its window.

Order does not matter within the engine's lateness: the state keeps (timestamp, event id) entries
sorted, a late event is judged on its own window, and because its arrival adds one to the windows of
the events recorded after it (those at s in [t, t + W)), each of those whose count has just reached
``threshold`` exactly qualifies now: the alert it would have raised had the late event arrived in
order. Every qualifying event is therefore found exactly once, whatever the arrival order; only the
``count`` reported may be smaller for an event found before all of its window had arrived.

Redelivery (same event id) adds nothing; its verdict is recomputed from the same entries, so it yields
the same finding again (the alert id is the same too).

State per entity: the entries of the last ``window + lateness`` seconds, at most ``max_entries`` (the
newest). Where the cap drops entries (a flood), counts over windows reaching back to the dropped ones
are lower bounds: such an event still qualifies when its lower bound does, and earlier events are then
not re-judged (they may have qualified already).

Subclass :class:`WindowedCountDetector` and implement ``entity_of`` (``console_brute_force`` on
CloudTrail sign-in failures reuses it that way).
"""
from __future__ import annotations

from abc import abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.model import Event
from churnguard_ops.security.ports import Entry

from .base import Detector, DetectorContext, Finding, as_time

#: Event ids of a window listed in an alert's context (the newest ones), enough to explain it.
CONTEXT_IDS = 10


class WindowedCountParams(PluginParams):
    threshold: int = Field(default=5, ge=1, description="events of one entity within the window that alert")
    window_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    max_entries: int = Field(default=1000, ge=1, le=10_000,
                             description="entries kept per entity (newest); at least threshold")


class WindowedCountDetector(Detector):
    """Base: ``threshold`` or more events of one entity within ``window_seconds`` (see module docs)."""

    Params: ClassVar[type[PluginParams]] = WindowedCountParams

    def __init__(self, params: PluginParams | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        p = self.params
        assert isinstance(p, WindowedCountParams)
        self.threshold = p.threshold
        self.window = float(p.window_seconds)
        self.keep = max(p.max_entries, p.threshold)

    @abstractmethod
    def entity_of(self, event: Event) -> str | None:
        """The entity this event counts for, or None when it does not count."""

    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        entity = self.entity_of(event)
        return self.count(event, entity, ctx) if entity else []

    def count(self, event: Event, entity: str, ctx: DetectorContext) -> list[Finding]:
        """Record ``event`` for ``entity`` and return the findings its arrival settles."""
        ts = event.time.timestamp()
        view = ctx.state.add_to_window(f"{self.name}|{entity}", Entry(ts, event.event_id, event.organization_id or ""),
                                       retain_seconds=self.window, lateness_seconds=ctx.lateness_seconds,
                                       keep=self.keep)
        if view.status == "late":
            return []
        entries, window, threshold = view.entries, self.window, self.threshold
        findings = []
        end = _first_after(entries, ts)
        start = _first_after(entries, ts - window)
        if end - start >= threshold:
            findings.append(self._finding(entity, entries, start, end, event.event_id, ts, event.organization_id,
                                          lower_bound=ts - window < view.floor))
        if view.status == "added" and (end < len(entries) or (end >= 2 and entries[end - 2].ts == ts)):
            # Not the newest: the events recorded at or after it whose window now holds it may have just qualified.
            for later in range(bisect_left(entries, ts, key=_ts), len(entries)):
                other = entries[later]
                if other.ts - window >= ts:
                    break
                if other.event_id == event.event_id or other.ts - window < view.floor:
                    continue  # itself; or a lower bound: it may have qualified before, do not say it twice
                other_end = _first_after(entries, other.ts)
                other_start = _first_after(entries, other.ts - window)
                if other_end - other_start == threshold:
                    findings.append(self._finding(entity, entries, other_start, other_end, other.event_id, other.ts,
                                                  other.value or None))
        return findings

    def _finding(self, entity: str, entries: list[Entry], start: int, end: int, event_id: str, ts: float,
                 organization_id: str | None, lower_bound: bool = False) -> Finding:
        in_window = entries[start:end]
        context: dict[str, Any] = {"threshold": self.threshold, "first_seen": as_time(in_window[0].ts).isoformat(),
                                   "event_ids": [e.event_id for e in in_window[-CONTEXT_IDS:]]}
        if lower_bound:
            context["count_is_lower_bound"] = True
        return Finding(entity=entity, event_id=event_id, time=as_time(ts), count=end - start,
                       window_seconds=int(self.window), organization_id=organization_id, context=context)


def _ts(entry: Entry) -> float:
    return entry.ts


def _first_after(entries: list[Entry], bound: float) -> int:
    """Index of the first entry with ts > bound."""
    return bisect_right(entries, bound, key=_ts)

