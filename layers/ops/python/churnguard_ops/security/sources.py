"""Any supported input document -> the engine's :class:`~churnguard_ops.security.model.Event`\\ s.

Recognized shapes (the live handler and ``opsctl security replay`` share this):

* an application event (the seed's ``SecurityEvent``);
* an EventBridge envelope: ``detail-type`` a CloudTrail one ("AWS API Call via CloudTrail", "AWS Console
  Sign In via CloudTrail", ...) -> a CloudTrail record; any other -> ``detail`` is an application event;
* a CloudTrail record (it has ``eventVersion`` and ``eventName``) or a CloudTrail log file
  (``{"Records": [...]}``).

CloudTrail shapes are normalized by :mod:`churnguard_ops.security.cloudtrail`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from churnguard_ops.core.registry import describe_errors
from churnguard_ops.security import cloudtrail
from churnguard_ops.security.cloudtrail import CLOUDTRAIL_DETAIL_TYPES
from churnguard_ops.security.model import Event, SecurityEvent


class UnsupportedInput(ValueError):
    """A document that is not one of the recognized shapes, or fails its model; the message says why."""


def is_cloudtrail(document: Mapping[str, Any]) -> bool:
    if "Records" in document:
        return True
    if "detail-type" in document and "detail" in document:
        return document["detail-type"] in CLOUDTRAIL_DETAIL_TYPES
    return "eventVersion" in document and "eventName" in document


def app_event(document: Mapping[str, Any]) -> Event:
    """An application event, bare or in an EventBridge envelope; UnsupportedInput naming the bad fields."""
    detail = document.get("detail") if "detail-type" in document else document
    if not isinstance(detail, Mapping):
        raise UnsupportedInput("detail: must be an application security event object")
    try:
        return Event.from_app(SecurityEvent.model_validate(detail))
    except ValidationError as exc:
        raise UnsupportedInput(f"not an application security event: {describe_errors(exc)}") from None


def to_events(document: Any) -> Iterator[Event]:
    """The events in one document (a CloudTrail log file holds many)."""
    if not isinstance(document, Mapping):
        raise UnsupportedInput(f"expected a JSON object, got {type(document).__name__}")
    if not is_cloudtrail(document):
        yield app_event(document)
        return
    try:
        for record in cloudtrail.iter_records(dict(document)):
            yield cloudtrail.normalize(record)
    except ValidationError as exc:
        raise UnsupportedInput(f"not a CloudTrail record: {describe_errors(exc)}") from None
    except ValueError as exc:
        raise UnsupportedInput(str(exc)) from None
