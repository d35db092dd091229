"""brute_force_login: many failed logins from one source IP within a sliding window."""
from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from pydantic import Field, field_validator

from churnguard_ops.core.registry import PluginParams
from churnguard_ops.security.model import Event

from .base import DETECTORS
from .windowed import WindowedCountDetector, WindowedCountParams


class BruteForceLoginParams(WindowedCountParams):
    threshold: int = Field(default=5, ge=1, description="failed logins from one IP within the window that alert")
    window_seconds: int = Field(default=300, ge=1, le=24 * 3600)
    event_type: str = Field(default="login_failed", min_length=1)
    allow_cidrs: list[str] = Field(default_factory=list,
                                   description="source networks never counted (office NAT, scanners we run)")

    @field_validator("allow_cidrs")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return check_networks(value)


def check_networks(cidrs: list[str]) -> list[str]:
    """``cidrs`` if each is a network (host bits allowed); ValueError naming the first bad one."""
    for cidr in cidrs:
        ipaddress.ip_network(cidr, strict=False)
    return cidrs


@DETECTORS.register
class BruteForceLogin(WindowedCountDetector):
    """At least ``threshold`` ``login_failed`` events from one ``source_ip`` within ``window_seconds``.

    For a failure at t the window is (t - window, t], the failure included: four failures then a fifth
    299 s after the first alert; a fifth 300 s after the first does not (the first has left the window).
    Events without a source IP, and IPs in ``allow_cidrs``, are not counted. Entity: the source IP.

    Example::

        {"detector": "brute_force_login", "params": {"threshold": 5, "window_seconds": 300,
                                                      "allow_cidrs": ["10.0.0.0/8"]}}
    """

    name = "brute_force_login"
    Params: ClassVar[type[PluginParams]] = BruteForceLoginParams
    severity = "high"
    recommended_action = "Block the source IP (WAF IP set) and review the targeted accounts"
    permissions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: PluginParams | dict[str, Any] | None = None) -> None:
        super().__init__(params)
        assert isinstance(self.params, BruteForceLoginParams)
        self.event_type = self.params.event_type
        self.allowed = [ipaddress.ip_network(c, strict=False) for c in self.params.allow_cidrs]

    def applies(self, event: Event) -> bool:
        return event.type == self.event_type and event.kind == "app"

    def entity_of(self, event: Event) -> str | None:
        ip = event.source_ip
        if not ip or (self.allowed and in_networks(ip, self.allowed)):
            return None
        return ip


def in_networks(ip: str, networks: list[Any]) -> bool:
    """``ip`` is an address inside one of ``networks`` (False for anything that is not an address)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
