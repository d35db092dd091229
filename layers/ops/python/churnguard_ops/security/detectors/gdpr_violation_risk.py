"""gdpr_violation_risk: a data-subject request left unanswered for more than 30 days."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from churnguard_ops.core.clock import parse_time
from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.model import Event

from .base import DETECTORS, Detector, DetectorContext, Finding

DAY = 86400.0


class GdprViolationRiskParams(PluginParams):
    overdue_event_types: list[str] = Field(default_factory=lambda: ["gdpr_request_overdue"])
    request_event_types: list[str] = Field(
        default_factory=lambda: ["gdpr_request", "gdpr_request_updated", "data_subject_request"])
    max_days: float = Field(default=30, gt=0, description="a request older than this and not completed alerts")
    done_statuses: list[str] = Field(default_factory=lambda: ["completed", "closed", "rejected"])


@DETECTORS.register
class GdprViolationRisk(Detector):
    """A data-subject request overdue by more than ``max_days`` (30).

    Two ways to qualify:

    * an explicit overdue event (type in ``overdue_event_types``, ``gdpr_request_overdue``), whatever its
      details say;
    * a request event (type in ``request_event_types``) whose ``details.received_at`` (ISO 8601; naive
      means UTC) is MORE than ``max_days`` days before the event's ``timestamp`` while
      ``details.status`` is not one of ``done_statuses`` (``completed``, ``closed``, ``rejected``).
      Exactly 30 days is not overdue. Without ``received_at`` the event is not judged.

    Entity: ``details.request_id`` (else the subject ``details.subject_user_id``, else ``user_id``); the
    request type (``details.request_type``: access, erasure, ...) and its age in days are in the context.

    Example::

        {"detector": "gdpr_violation_risk", "params": {"max_days": 30}}

    A qualifying request event::

        {"event_type": "gdpr_request", "timestamp": "2026-11-28T10:00:00Z",
         "details": {"request_id": "dsr-42", "request_type": "erasure",
                     "received_at": "2026-10-20T09:00:00Z", "status": "pending"}}
    """

    name = "gdpr_violation_risk"
    Params: ClassVar[type[PluginParams]] = GdprViolationRiskParams
    severity = "critical"
    recommended_action = "Complete the data-subject request now and record why it was late (GDPR Art. 12(3))"
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, GdprViolationRiskParams)
        self.overdue = frozenset(self.params.overdue_event_types)
        self.requests = frozenset(self.params.request_event_types)
        self.types = self.overdue | self.requests
        self.max_seconds = self.params.max_days * DAY
        self.done = frozenset(s.lower() for s in self.params.done_statuses)

    def applies(self, event: Event) -> bool:
        return event.type in self.types and event.kind == "app"

    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        details = event.details
        entity = details.get("request_id") or details.get("subject_user_id") or event.user_id
        if not entity:
            return []
        context: dict[str, Any] = {"request_type": details.get("request_type")}
        received = details.get("received_at")
        received_at = parse_time(received) if isinstance(received, str) else None
        if received_at is not None:
            context["received_at"] = received_at.isoformat()
            context["age_days"] = round((event.time - received_at).total_seconds() / DAY, 1)
        if event.type in self.overdue:
            context["reason"] = "overdue_event"
        else:
            status = str(details.get("status") or "").lower()
            if received_at is None or status in self.done:
                return []
            if (event.time - received_at).total_seconds() <= self.max_seconds:
                return []
            context.update(reason="request_age", status=status or None)
        return [Finding(entity=str(entity), event_id=event.event_id, time=event.time,
                        organization_id=event.organization_id, context=context)]
