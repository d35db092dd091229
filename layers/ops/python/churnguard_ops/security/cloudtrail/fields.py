"""Readers of a normalized CloudTrail :class:`~churnguard_ops.security.model.Event`, shared by the detectors.

``details`` keeps CloudTrail's own field names (see :func:`~.record.normalize`); these readers return an
empty value rather than raise when a service logged ``null`` or a scalar where an object is usual.
"""
from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import unquote

from churnguard_ops.security.model import Event

__all__ = ["account", "allows", "as_list", "console_login_failed", "context", "failed", "identity", "items",
           "policy_document", "request", "response", "source", "statements", "world"]


def failed(event: Event) -> bool:
    """The call failed (``errorCode`` set): it is never the act itself."""
    return bool(event.details.get("errorCode"))


def source(event: Event) -> str:
    return str(event.details.get("eventSource") or "")


def request(event: Event) -> dict[str, Any]:
    """``requestParameters`` (``{}`` when not an object)."""
    params = event.details.get("requestParameters")
    return params if isinstance(params, dict) else {}


def response(event: Event) -> dict[str, Any]:
    """``responseElements`` (``{}`` when not an object)."""
    elements = event.details.get("responseElements")
    return elements if isinstance(elements, dict) else {}


def identity(event: Event) -> dict[str, Any]:
    """The reduced ``userIdentity`` of ``details`` (``type``, ``arn``, ``invokedBy``, ``sessionIssuerArn``...)."""
    found = event.details.get("userIdentity")
    return found if isinstance(found, dict) else {}


def account(event: Event) -> str | None:
    """Our account: ``recipientAccountId`` (else the caller's)."""
    value = event.details.get("recipientAccountId")
    return str(value) if value else None


def as_list(value: Any) -> list[Any]:
    """CloudTrail writes one-element lists as the element in some services (XML-derived JSON): accept both."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def items(container: Any) -> list[Any]:
    """EC2's ``{"items": [...]}`` wrapper (or a bare list)."""
    if isinstance(container, dict):
        return as_list(container.get("items"))
    return as_list(container)


def context(event: Event, **extra: Any) -> dict[str, Any]:
    """An alert's context: who did what, where, when (CloudTrail's terms), plus the detector's ``extra``."""
    return {
        "event_id": event.event_id,
        "event_name": event.type,
        "event_source": source(event),
        "time": event.time.isoformat(),
        "actor": event.user_id,
        "actor_arn": identity(event).get("arn"),
        "source_ip": event.source_ip,
        "account": account(event),
        "region": event.details.get("awsRegion"),
        **extra,
    }


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy as logged: an object, a JSON string, or a URL-encoded JSON string. ``None`` if unreadable."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    for text in (value, unquote(value)):
        try:
            document = json.loads(text)
        except ValueError:
            continue
        return document if isinstance(document, dict) else None
    return None


def statements(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not document:
        return []
    return [statement for statement in as_list(document.get("Statement")) if isinstance(statement, dict)]


def allows(statement: dict[str, Any]) -> bool:
    return str(statement.get("Effect", "")).lower() == "allow"


def world(cidr: Any) -> bool:
    """``0.0.0.0/0``, ``::/0`` and any other spelling of a /0."""
    try:
        return ipaddress.ip_network(str(cidr).strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def console_login_failed(event: Event) -> bool:
    """A failed console sign-in: ``ConsoleLogin`` whose result (``responseElements.ConsoleLogin``, or
    ``additionalEventData.ConsoleLogin`` in some exports) is ``"Failure"``, or whose ``errorMessage`` is
    ``"Failed authentication"``. It carries no ``errorCode``. The ``console_brute_force`` detector counts these per
    source IP (a record whose ``sourceIPAddress`` is not an address, ``details.sourceIsAwsService``, is not counted).
    """
    if event.type != "ConsoleLogin":
        return False
    for section in (response(event), event.details.get("additionalEventData")):
        if isinstance(section, dict) and section.get("ConsoleLogin") == "Failure":
            return True
    return event.details.get("errorMessage") == "Failed authentication"
