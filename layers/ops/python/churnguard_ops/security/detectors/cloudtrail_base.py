"""The base of the detectors that judge one CloudTrail record at a time (stateless).

A subclass sets the plugin attributes (``name``, ``Params``, ``severity``, ``recommended_action``, a docstring
with an example), the ``event_names`` / ``event_sources`` its cheap pre-filter accepts, and implements
``predicate(event)``: the finding for the record, built with :meth:`CloudTrailDetector.finding`, or ``None``.

Rules shared by every CloudTrail predicate:

- A failed call (``errorCode`` set) is never the act itself: it is not judged at all (:meth:`evaluate`).
  A failed console sign-in carries no ``errorCode``; it is ``console_brute_force``'s input.
- A predicate judges the request of one record. CloudTrail does not record the state before the call, so a
  call that *sets* a weak configuration alerts even when it was already weak.
- Severity and recommended action are the detector's; what differs per case (which flag, which grantee) is in
  the alert's ``context`` (``reason`` and the fields named in each detector's docstring), under CloudTrail's
  terms: ``event_name``, ``event_source``, ``actor``, ``actor_arn``, ``source_ip``, ``account``, ``region``.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import Detector, DetectorContext, Finding

__all__ = ["CloudTrailDetector"]


class CloudTrailDetector(Detector):
    """Base: one CloudTrail record, one verdict (see the module docs). Not registered itself."""

    #: ``eventName`` values the detector judges; empty: any (the predicate filters).
    event_names: ClassVar[frozenset[str]] = frozenset()
    #: ``eventSource`` values the detector judges; empty: any.
    event_sources: ClassVar[frozenset[str]] = frozenset()
    permissions: ClassVar[tuple[str, ...]] = ()

    def applies(self, event: Event) -> bool:
        return (event.kind == "cloudtrail"
                and (not self.event_names or event.type in self.event_names)
                and (not self.event_sources or fields.source(event) in self.event_sources))

    def evaluate(self, event: Event, ctx: DetectorContext) -> list[Finding]:
        if fields.failed(event):
            return []
        finding = self.predicate(event)
        return [] if finding is None else [finding]

    @abstractmethod
    def predicate(self, event: Event) -> Finding | None:
        """The finding for this (successful) record, or None."""

    @staticmethod
    def finding(event: Event, entity: str, **context: Any) -> Finding:
        """A finding on ``entity`` triggered by ``event`` alone (count 1, no window)."""
        return Finding(entity=entity, event_id=event.event_id, time=event.time, count=1, window_seconds=0,
                       organization_id=None, context=fields.context(event, **context))
