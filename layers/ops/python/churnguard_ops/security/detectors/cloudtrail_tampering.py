"""cloudtrail_tampering: a trail stopped, deleted, or its logging of management events cut down."""
from __future__ import annotations

from typing import Any, ClassVar

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import fields
from churnguard_ops.security.model import Event

from .base import DETECTORS, Finding
from .cloudtrail_base import CloudTrailDetector


def selectors_cut_down(selectors: list[Any]) -> str | None:
    """Why basic event selectors no longer log every management event, or ``None`` if they still do."""
    read_write: set[str] = set()
    excluded: list[str] = []
    for selector in selectors:
        if not isinstance(selector, dict) or selector.get("includeManagementEvents") is False:
            continue
        sources = fields.as_list(selector.get("excludeManagementEventSources"))
        if sources:
            excluded.extend(str(source) for source in sources)
            continue
        read_write.add(str(selector.get("readWriteType") or "All"))
    if "All" in read_write or {"ReadOnly", "WriteOnly"} <= read_write:
        return None
    if excluded:
        return f"management events of {sorted(set(excluded))} excluded"
    if read_write:
        return f"management events narrowed to {sorted(read_write)}"
    return "management events not logged (includeManagementEvents false)"


def advanced_selectors_cut_down(selectors: list[Any]) -> str | None:
    """Advanced selectors keep all management events if one selects ``eventCategory = Management`` with no other
    field, or the ``Management`` selectors' only other field is ``readOnly`` and together they cover both values."""
    read_only: set[str] = set()
    narrowed = False
    for selector in selectors:
        if not isinstance(selector, dict):
            continue
        tests = [test for test in fields.as_list(selector.get("fieldSelectors")) if isinstance(test, dict)]
        category = [test for test in tests if test.get("field") == "eventCategory"]
        if not any("Management" in fields.as_list(test.get("equals")) for test in category):
            continue
        others = [test for test in tests if test.get("field") != "eventCategory"]
        if not others:
            return None
        if all(test.get("field") == "readOnly" and test.get("equals") for test in others):
            for test in others:
                read_only.update(str(value).lower() for value in fields.as_list(test.get("equals")))
        else:
            narrowed = True
    if {"true", "false"} <= read_only:
        return None
    if narrowed or read_only:
        return "management events filtered by advanced selectors"
    return "no advanced selector logs management events"


@DETECTORS.register
class CloudTrailTampering(CloudTrailDetector):
    """A trail stopped, deleted, or its logging cut down (CloudTrail). Critical.

    Rule: ``StopLogging``; ``DeleteTrail``; ``PutEventSelectors`` after which the trail's basic selectors no longer
    log all management events (every selector has ``includeManagementEvents`` false, ``readWriteType`` narrowed
    to ``ReadOnly`` or ``WriteOnly`` alone, or management event sources excluded); ``PutAdvancedEventSelectors``
    with no selector logging every management event (``eventCategory = Management`` plus any other filter than a
    ``readOnly`` split covering both values is a cut); ``UpdateTrail`` setting ``isMultiRegionTrail`` or
    ``includeGlobalServiceEvents`` to false. Decided: the new selectors are judged against "all management
    events" (the record does not hold the previous ones), so narrowing a trail that was already narrow alerts.
    Data-event selectors are not judged (they are opt-in and costed).

    Entity: the trail (name or ARN as the request gave it); context: ``trail``, ``reason``.

    Example::

        {"detector": "cloudtrail_tampering", "params": {}}
    """

    name = "cloudtrail_tampering"
    Params: ClassVar[type[PluginParams]] = PluginParams
    severity = "critical"
    recommended_action = ("Restore the trail now (StartLogging / recreate it / restore its selectors), then treat "
                          "the actor's session as compromised: what happened while logging was reduced is only "
                          "partly recorded.")
    event_names = frozenset({"StopLogging", "DeleteTrail", "PutEventSelectors", "PutAdvancedEventSelectors",
                             "UpdateTrail"})
    event_sources = frozenset({"cloudtrail.amazonaws.com"})

    def predicate(self, event: Event) -> Finding | None:
        params = fields.request(event)
        trail = str(params.get("name") or params.get("trailName") or fields.response(event).get("trailARN")
                    or "unknown-trail")
        reason: str | None
        if event.type == "StopLogging":
            reason = "logging stopped"
        elif event.type == "DeleteTrail":
            reason = "trail deleted"
        elif event.type == "PutEventSelectors" and "advancedEventSelectors" not in params:
            reason = selectors_cut_down(fields.as_list(params.get("eventSelectors")))
        elif event.type in ("PutEventSelectors", "PutAdvancedEventSelectors"):
            reason = advanced_selectors_cut_down(fields.as_list(params.get("advancedEventSelectors")))
        elif event.type == "UpdateTrail":
            cuts = [key for key in ("isMultiRegionTrail", "includeGlobalServiceEvents") if params.get(key) is False]
            reason = f"{' and '.join(cuts)} set to false" if cuts else None
        else:
            return None
        return None if reason is None else self.finding(event, trail, trail=trail, reason=reason)
