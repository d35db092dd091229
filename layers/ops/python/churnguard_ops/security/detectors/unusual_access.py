"""unusual_access: a successful login at an unusual hour AND from an unusual location for that user."""
from __future__ import annotations

from datetime import timezone
from typing import Any, ClassVar

from pydantic import Field

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.model import Event
from churnguard_ops.security.ports import Entry

from .base import DETECTORS, Detector, DetectorContext, Finding

DAY = 86400


class UnusualAccessParams(PluginParams):
    event_type: str = Field(default="login_success", min_length=1)
    location_field: str = Field(default="country", min_length=1,
                                description="the details field naming where the login came from")
    min_history: int = Field(default=10, ge=1, description="earlier logins of the user needed before any verdict")
    history_size: int = Field(default=50, ge=1, le=1000, description="the user's newest logins kept")
    history_days: int = Field(default=90, ge=1, le=730, description="logins older than this are forgotten")
    hour_tolerance: int = Field(default=2, ge=0, le=11,
                                description="an hour within this many hours of a known login hour is usual")


@DETECTORS.register
class UnusualAccess(Detector):
    """A ``login_success`` anomalous in BOTH hour of day and location against the user's own history.

    The rule, for a login by ``user_id`` at event time t from location L (``details.country`` by default):

    * history: the user's earlier logins (event time before t) among the newest ``history_size`` within
      ``history_days``; fewer than ``min_history`` of them: no verdict (the login is only recorded);
    * unusual hour: t's UTC hour is more than ``hour_tolerance`` hours (around the clock: 23 and 1 are 2
      apart) from the hour of EVERY login in the history;
    * unusual location: L appears in no login of the history;
    * both: alert. A login without a location, or without a user id, gets no verdict.

    Each login counts once (idempotent on event id). A login arriving late is judged on the history
    before its own time; it does not re-judge logins already judged.

    Example::

        {"detector": "unusual_access", "params": {"min_history": 10, "hour_tolerance": 2,
                                                   "location_field": "country"}}
    """

    name = "unusual_access"
    Params: ClassVar[type[PluginParams]] = UnusualAccessParams
    severity = "medium"
    recommended_action = "Ask the user to confirm the login; force a password reset and MFA if they did not"
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        p = self.params
        assert isinstance(p, UnusualAccessParams)
        self.p = p

    def applies(self, event: Event) -> bool:
        return event.type == self.p.event_type and event.kind == "app"

    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        user = event.user_id
        if not user:
            return []
        raw = event.details.get(self.p.location_field)
        location = str(raw).strip() if raw not in (None, "") else ""
        hour = event.time.astimezone(timezone.utc).hour
        ts = event.time.timestamp()
        view = ctx.state.add_to_window(f"{self.name}|{user}", Entry(ts, event.event_id, f"{hour}|{location}"),
                                       retain_seconds=float(self.p.history_days * DAY),
                                       lateness_seconds=ctx.lateness_seconds, keep=self.p.history_size + 1)
        if view.status == "late" or not location:
            return []
        history = [e for e in view.entries if e.ts < ts]
        if len(history) < self.p.min_history:
            return []
        hours, places = set(), set()
        for entry in history:
            known_hour, _, known_place = entry.value.partition("|")
            hours.add(int(known_hour))
            if known_place:
                places.add(known_place)
        tolerance = self.p.hour_tolerance
        if location in places or any(min(abs(hour - h), 24 - abs(hour - h)) <= tolerance for h in hours):
            return []
        return [Finding(entity=user, event_id=event.event_id, time=event.time, count=1,
                        organization_id=event.organization_id,
                        context={"hour_utc": hour, "usual_hours_utc": sorted(hours), "location": location,
                                 "known_locations": sorted(places)[:20], "history": len(history),
                                 "source_ip": event.source_ip})]
