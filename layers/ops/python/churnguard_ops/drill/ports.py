"""What the drill needs beyond the shared ports of :mod:`churnguard_ops.core.ports`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RdsEvent:
    """One entry of RDS's event log (DescribeEvents): what happened to a resource, and when RDS says it did."""

    source_identifier: str
    date: datetime
    message: str
    categories: tuple[str, ...] = ()


class InstanceEvents(Protocol):
    """RDS events of DB instances in one region (DescribeEvents, SourceType db-instance)."""

    region: str

    def instance_events(self, instance_id: str, start: datetime, end: datetime) -> list[RdsEvent]: ...


class DrillHistory(Protocol):
    """The drill history table, read side."""

    def last_success(self, source_instance: str) -> datetime | None:
        """When the newest passed drill of ``source_instance`` was reported; None if none ever passed."""
        ...
