"""Fakes of the flags library's ports: a scripted configuration store and a clock the test moves."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from churnguard_ops.core.errors import Unavailable
from churnguard_ops.flags.ports import Fetched

START = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)

SEED_DOCUMENT: dict[str, Any] = {
    "new_dashboard_ui": {
        "default": False, "description": "The redesigned dashboard",
        "rollout": {"percentage": 10, "value": True, "attribute": "user_id", "salt": "new_dashboard_ui"},
        "kill_switch": False,
    },
    "advanced_analytics": {
        "default": False,
        "rules": {"professional and enterprise tiers": {
            "when_match": True,
            "conditions": [{"action": "IN", "key": "subscription_tier", "value": ["professional", "enterprise"]}]}},
    },
}


class ManualClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedSource:
    """Answers like AppConfig's data plane: the deployed document once, then empty content until it changes.

    ``deploy`` changes what is deployed; ``fail`` makes polls raise until ``recover``."""

    def __init__(self, document: dict[str, Any] | bytes | None = None,
                 poll_interval_seconds: int | None = None) -> None:
        self.poll_interval_seconds = poll_interval_seconds
        self.fetches = 0
        self._deployed: bytes | None = None
        self._version = 0
        self._delivered: int | None = None
        self._failure: Exception | None = None
        if document is not None:
            self.deploy(document)

    def deploy(self, document: dict[str, Any] | bytes) -> None:
        self._deployed = document if isinstance(document, bytes) else json.dumps(document).encode()
        self._version += 1

    def fail(self, error: Exception | None = None) -> None:
        self._failure = error or Unavailable("appconfigdata GetLatestConfiguration: EndpointConnectionError")
        self._delivered = None  # a failed poll loses the session: the next one gets the whole document

    def recover(self) -> None:
        self._failure = None

    def fetch(self) -> Fetched:
        self.fetches += 1
        if self._failure is not None:
            raise self._failure
        if self._deployed is None or self._delivered == self._version:
            return Fetched(b"", self.poll_interval_seconds, None)
        self._delivered = self._version
        return Fetched(self._deployed, self.poll_interval_seconds, str(self._version))


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.core.clock import Clock
    from churnguard_ops.flags import ports

    _source: ports.ConfigurationSource = ScriptedSource()
    _clock: Clock = ManualClock()
