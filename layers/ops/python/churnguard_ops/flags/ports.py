"""What the flags library needs from the outside: the deployed flag document. Metrics go to core's MetricsSink."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Fetched:
    """One poll of the configuration store."""

    #: the document's bytes; empty when it has not changed since the previous poll
    content: bytes
    #: how long the store asks us to wait before the next poll (None: our own cache period)
    poll_interval_seconds: int | None = None
    #: the deployed version's label, when the store tells it
    version: str | None = None


class ConfigurationSource(Protocol):
    def fetch(self) -> Fetched:
        """The latest deployed document, or empty content when unchanged since the last fetch.

        Raises an OpsError (``Unavailable``, ``Throttled``, ``AccessDenied``, ...) when the store fails."""
        ...
