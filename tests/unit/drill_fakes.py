"""In-memory RDS for drill unit tests, built on ``churnguard_ops.core.fakes.MemoryRds``."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from churnguard_ops.core import contracts
from churnguard_ops.core.fakes import MemoryRds
from churnguard_ops.core.rds_model import DbInstance, Snapshot
from churnguard_ops.drill.model import ExecutionRef
from churnguard_ops.drill.ports import RdsEvent

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:churnguard-ops-restore-drill"


def execution(name: str = "t1", started_at: datetime = T0) -> ExecutionRef:
    """The $$.Execution a task of execution ``name`` sees."""
    return ExecutionRef(id=f"{STATE_MACHINE.replace(':stateMachine:', ':execution:')}:{name}", name=name,
                        started_at=started_at)


class FakeInstanceEvents:
    """RDS's event log of one region: what DescribeEvents returns for an instance in a time range."""

    def __init__(self, region: str = "us-east-1", events: list[RdsEvent] | None = None) -> None:
        self.region = region
        self.events = list(events or [])
        self.queries: list[tuple[str, datetime, datetime]] = []

    def instance_events(self, instance_id: str, start: datetime, end: datetime) -> list[RdsEvent]:
        self.queries.append((instance_id, start, end))
        return [e for e in self.events if e.source_identifier == instance_id and start <= e.date <= end]


class FakeDrillHistory:
    """History items (source_instance, passed, reported_at), read as the freshness function reads them."""

    def __init__(self, items: list[dict] | None = None) -> None:
        self.items = list(items or [])

    def last_success(self, source_instance: str) -> datetime | None:
        passed = [datetime.fromisoformat(i["reported_at"]) for i in self.items
                  if i["source_instance"] == source_instance and i["passed"]]
        return max(passed) if passed else None


def source_instance(instance_id: str = "churnguard-prod") -> DbInstance:
    return DbInstance(instance_id=instance_id, status="available", address=f"{instance_id}.rds.example",
                      port=5432, db_name="churnguard", subnet_group="prod-db-subnets",
                      security_group_ids=["sg-prod-db"], storage_encrypted=True,
                      latest_restorable_time=T0, tags={})


class FakeDrillRds(MemoryRds):
    def __init__(self, region: str = "us-east-1") -> None:
        # Drill snapshots start "creating", as RDS reports them right after CreateDBSnapshot.
        super().__init__(region, clock=lambda: T0, new_snapshot_status="creating")

    def add_snapshot(self, snapshot_id: str, source: str, created_at: datetime, ours: bool = True,
                     status: str = "available", **tags: str) -> Snapshot:
        all_tags = ({contracts.MARKER_TAG: contracts.MARKER_VALUE, contracts.SOURCE_INSTANCE_TAG: source}
                    if ours else {})
        all_tags.update(tags)
        return self.put_snapshot(Snapshot(snapshot_id=snapshot_id, arn=f"arn:aws:rds:{self.region}:1:snapshot:"
                                          f"{snapshot_id}", source_instance=source, status=status,
                                          created_at=created_at, encrypted=True, tags=all_tags))


if TYPE_CHECKING:  # mypy proves the fake satisfies the port the drill uses
    from churnguard_ops.core.ports import RdsRegion
    from churnguard_ops.drill.ports import DrillHistory, InstanceEvents

    _rds: RdsRegion = FakeDrillRds()
    _events: InstanceEvents = FakeInstanceEvents()
    _history: DrillHistory = FakeDrillHistory()
