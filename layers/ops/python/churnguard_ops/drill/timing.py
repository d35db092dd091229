"""When the restored instance became available, as RDS recorded it (its event log), not as a poll saw it.

A poll sees "available" up to one wait interval late (8x poll_seconds with back-off), which an RTO
measured from polls includes. RDS logs the restore's completion as an instance event: RDS-EVENT-0043
"Restored from snapshot <snapshot>" and RDS-EVENT-0019 "Restored from DB instance <source> to <time>"
(point in time). DescribeEvents carries no event ids, so the messages are matched.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.errors import OpsError
from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.ports import InstanceEvents, RdsEvent

RESTORE_COMPLETE_MESSAGES = ("Restored from snapshot", "Restored from DB instance")


class RestoreTiming(BaseModel):
    available_at: datetime | None = None
    source: Literal["rds_event", "poll"] | None = None
    event: str | None = None  # the RDS event's message
    note: str | None = None  # why the poll time was used


def restore_completed(events: list[RdsEvent], instance_id: str, requested_at: datetime) -> RdsEvent | None:
    """The first restore-complete event of ``instance_id`` at or after the restore request."""
    done = [e for e in events if e.source_identifier == instance_id and e.date >= requested_at
            and e.message.startswith(RESTORE_COMPLETE_MESSAGES)]
    return min(done, key=lambda e: e.date) if done else None


class RestoreTimer:
    def __init__(self, events: Callable[[str], InstanceEvents], clock: Clock = utcnow) -> None:
        self.events = events
        self.clock = clock

    def timing(self, state: DrillState) -> RestoreTiming:
        """``state`` holds only this drill's plan and restore (LenientExecutionTask.own)."""
        plan, restore = state.plan, state.restore
        if plan is None or restore is None or not restore.wait.ready:
            return RestoreTiming()
        polled = restore.wait.observed_at
        try:
            log = self.events(plan.region).instance_events(restore.instance_id, restore.requested_at, self.clock())
        except OpsError as exc:  # the report must go out regardless; say why the RTO is the poll's
            return RestoreTiming(available_at=polled, source="poll", note=f"RDS events unreadable: {exc}")
        event = restore_completed(log, restore.instance_id, restore.requested_at)
        if event is None:
            return RestoreTiming(available_at=polled, source="poll",
                                 note=f"no restore-complete RDS event for {restore.instance_id}: RTO from the poll "
                                      "that saw it available (up to one poll interval late)")
        return RestoreTiming(available_at=event.date, source="rds_event", event=event.message)
