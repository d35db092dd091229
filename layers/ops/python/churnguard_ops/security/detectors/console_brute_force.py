"""console_brute_force: many failed AWS console sign-ins (CloudTrail) from one source IP within a window."""
from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from pydantic import Field, field_validator

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.cloudtrail import console_login_failed, is_ip
from churnguard_ops.security.model import Event

from .base import DETECTORS
from .brute_force_login import check_networks, in_networks
from .windowed import WindowedCountDetector, WindowedCountParams


class ConsoleBruteForceParams(WindowedCountParams):
    threshold: int = Field(default=5, ge=1, description="failed console sign-ins from one IP within the window")
    window_seconds: int = Field(default=300, ge=1, le=24 * 3600)
    allow_cidrs: list[str] = Field(default_factory=list,
                                   description="source networks never counted (office NAT, scanners we run)")

    @field_validator("allow_cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return check_networks(value)


@DETECTORS.register
class ConsoleBruteForce(WindowedCountDetector):
    """Many failed AWS console sign-ins from one source IP within a window (CloudTrail). High.

    At least ``threshold`` failed sign-ins from one ``sourceIPAddress`` within ``window_seconds``.

    A failed sign-in is a ``ConsoleLogin`` record whose result is ``Failure`` (``responseElements`` or
    ``additionalEventData``) or whose ``errorMessage`` is ``Failed authentication``; root and IAM users alike,
    whatever user name was tried. The rule is ``brute_force_login``'s: for a failure at t the window is
    (t - window, t], the failure included: four failures then a fifth 299 s after the first alert, a fifth
    300 s after the first does not. A ``sourceIPAddress`` that is not an address (an AWS service name,
    ``AWS Internal``) is not counted, nor an IP in ``allow_cidrs``. Entity: the source IP; context: the
    window's ``event_ids``, ``first_seen``, ``threshold``.

    Example::

        {"detector": "console_brute_force", "params": {"threshold": 5, "window_seconds": 300,
                                                        "allow_cidrs": ["192.0.2.0/24"]}}
    """

    name = "console_brute_force"
    Params: ClassVar[type[PluginParams]] = ConsoleBruteForceParams
    severity = "high"
    recommended_action = ("Block the source IP (WAF IP set / network ACL) unless it is ours; check MFA on the IAM "
                          "users and root it targeted, and rotate the password of any that signed in from it.")
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, ConsoleBruteForceParams)
        self.allowed = [ipaddress.ip_network(c, strict=False) for c in self.params.allow_cidrs]

    def applies(self, event: Event) -> bool:
        return event.kind == "cloudtrail" and event.type == "ConsoleLogin" and console_login_failed(event)

    def entity_of(self, event: Event) -> str | None:
        ip = event.source_ip
        if event.details.get("sourceIsAwsService") or not is_ip(ip):
            return None
        assert ip is not None
        return None if self.allowed and in_networks(ip, self.allowed) else ip
