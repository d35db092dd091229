"""The RDS-facing drill steps: plan, restore, poll, clean up, sweep.

Every step takes the execution state and returns only its own part. Guards run before anything
is created or deleted, so a bug upstream cannot aim a drill at the source database.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock, parse_time, utcnow
from churnguard_ops.core.contracts import DRILL_INSTANCE_PREFIX, DRILL_SNAPSHOT_PREFIX
from churnguard_ops.core.errors import AlreadyExists, NotFound
from churnguard_ops.core.ports import RdsRegion
from churnguard_ops.core.rds_model import Snapshot
from churnguard_ops.drill import guard, polling
from churnguard_ops.drill.errors import GuardViolation, NoRecoveryPoint
from churnguard_ops.drill.model import (
    DrillPlan,
    DrillState,
    ExecutionRef,
    PollRequest,
    RecoveryPoint,
    RestoreInfo,
    WaitStatus,
)
from churnguard_ops.drill.settings import DrillSettings

RdsFactory = Callable[[str], RdsRegion]


class DrillWorkflow:
    def __init__(self, settings: DrillSettings, rds: RdsFactory, primary_region: str,
                 clock: Clock = utcnow) -> None:
        self.settings = settings
        self.rds = rds
        self.primary_region = primary_region
        self.clock = clock

    def _region(self, target: str) -> str:
        if target == "dr":
            if not self.settings.dr_region:
                raise NoRecoveryPoint("target_region 'dr' requested but no DR region is configured")
            return self.settings.dr_region
        return self.primary_region

    # -- plan ---------------------------------------------------------------------------------
    def plan(self, state: DrillState, execution: ExecutionRef) -> DrillPlan:
        configured = self.settings.db_instance_ids
        source = state.source_instance or (configured[0] if configured else None)
        if source is None or source not in configured:
            raise GuardViolation(f"source_instance: {source!r} is not a configured drill source; "
                                 f"configured: {configured}")
        now = self.clock()
        drill_id = execution.drill_id  # a retried Plan gets the same id and continues with its own resources
        region = self._region(state.target_region)
        rds = self.rds(region)
        expires_at = now + timedelta(hours=self.settings.expiry_hours)
        drill_snapshot_id = None
        if state.mode == "latest":
            point = self._latest(rds, source)
        elif state.mode == "snapshot":
            point = self._named(rds, source, state.snapshot_id or "")
        elif state.mode == "fresh":
            if state.target_region == "dr":
                raise NoRecoveryPoint("a fresh drill snapshot is taken in the primary region; use mode 'latest' "
                                      "to drill the DR copies")
            drill_snapshot_id = DRILL_SNAPSHOT_PREFIX + drill_id
            try:
                snapshot = rds.create_snapshot(source, drill_snapshot_id,
                                               guard.drill_tags(drill_id, source, expires_at.isoformat()))
            except AlreadyExists:  # a retried Plan: continue with this drill's own snapshot
                snapshot = rds.snapshot(drill_snapshot_id)
                guard.require_drill_owned("snapshot", drill_snapshot_id, snapshot.tags, drill_id)
            point = _snapshot_point(snapshot)
        else:
            point = self._point_in_time(rds, source, state.restore_time, state.target_region)
        status = "available" if point.kind == "point_in_time" else rds.snapshot(point.snapshot_id or "").status
        return DrillPlan(
            drill_id=drill_id, source_instance=source, region=region, target_region=state.target_region,
            recovery_point=point, temp_instance_id=DRILL_INSTANCE_PREFIX + drill_id, expires_at=expires_at,
            requested_at=now, drill_snapshot_id=drill_snapshot_id, poll_seconds=state.poll_seconds,
            max_wait_seconds=state.max_wait_seconds, wait=polling.first_wait(status, state.poll_seconds, now))

    def _latest(self, rds: RdsRegion, source: str) -> RecoveryPoint:
        ours = [s for s in rds.snapshots() if s.source_instance == source and s.status == "available"
                and s.tags.get(contracts.MARKER_TAG) == contracts.MARKER_VALUE and not guard.is_drill_resource(s.tags)]
        if not ours:
            raise NoRecoveryPoint(f"no available backup snapshot of {source} in {rds.region}")
        return _snapshot_point(max(ours, key=_recency))

    def _named(self, rds: RdsRegion, source: str, snapshot_id: str) -> RecoveryPoint:
        try:
            snapshot = rds.snapshot(snapshot_id)
        except NotFound as exc:
            raise NoRecoveryPoint(f"snapshot {snapshot_id} not found in {rds.region}") from exc
        if snapshot.source_instance != source:
            raise NoRecoveryPoint(f"snapshot {snapshot_id} is of {snapshot.source_instance}, not {source}")
        return _snapshot_point(snapshot)

    def _point_in_time(self, rds: RdsRegion, source: str, when: datetime | None, target: str) -> RecoveryPoint:
        if target == "dr":
            raise NoRecoveryPoint("point-in-time drills run in the primary region (no replicated automated backups)")
        latest = rds.instance(source).latest_restorable_time
        if latest is None:
            raise NoRecoveryPoint(f"{source} has no restorable time (automated backups off?)")
        if when is not None and when > latest:
            raise NoRecoveryPoint(f"restore_time {when.isoformat()} is after the latest restorable time "
                                  f"{latest.isoformat()}")
        return RecoveryPoint(kind="point_in_time", time=when or latest)

    # -- restore and wait ---------------------------------------------------------------------
    def restore(self, state: DrillState) -> RestoreInfo:
        plan = _require_plan(state)
        guard.require_drill_instance(plan.temp_instance_id, plan.source_instance, self.settings.db_instance_ids,
                                     field="plan.temp_instance_id")
        rds = self.rds(plan.region)
        source = self.rds(self.primary_region).instance(plan.source_instance)
        subnet_group, security_groups = (source.subnet_group, source.security_group_ids)
        if plan.target_region == "dr":  # the source's network does not exist in the DR region
            subnet_group, security_groups = self.settings.dr_subnet_group, self.settings.dr_security_group_ids
        tags = guard.drill_tags(plan.drill_id, plan.source_instance, plan.expires_at.isoformat())
        now = self.clock()
        try:
            point = plan.recovery_point
            if point.kind == "snapshot":
                snapshot = rds.snapshot(point.snapshot_id or "")
                instance = rds.restore_snapshot(snapshot, plan.temp_instance_id, self.settings.instance_class,
                                                subnet_group, security_groups, tags)
            else:
                instance = rds.restore_point_in_time(plan.source_instance, plan.temp_instance_id, point.time,
                                                     self.settings.instance_class, subnet_group, security_groups,
                                                     tags)
        except AlreadyExists:  # a retried task: carry on only if it is this drill's instance
            instance = rds.instance(plan.temp_instance_id)
            guard.require_drill_owned("instance", instance.instance_id, instance.tags, plan.drill_id)
        budget = max(plan.max_wait_seconds - plan.wait.waited_seconds, 1)  # one budget for both waits
        # Observed after the call returned: an instance that is available at once still took that long.
        return RestoreInfo(instance_id=instance.instance_id, requested_at=now,
                           wait=polling.first_wait(instance.status, min(plan.poll_seconds, budget), self.clock()))

    def poll(self, request: PollRequest) -> WaitStatus:
        plan = _require_plan(request.drill)
        rds = self.rds(plan.region)
        now = self.clock()
        if request.target == "snapshot":
            snapshot_id = plan.recovery_point.snapshot_id or ""
            return polling.next_wait(plan.wait, rds.snapshot(snapshot_id).status,
                                     failed_states=polling.SNAPSHOT_FAILED, what=f"snapshot {snapshot_id}",
                                     poll_seconds=plan.poll_seconds, max_wait_seconds=plan.max_wait_seconds,
                                     now=now)
        restore = request.drill.restore
        if restore is None:
            raise ValueError("poll target 'instance' needs $.restore")
        return polling.next_wait(restore.wait, rds.instance(restore.instance_id).status,
                                 failed_states=polling.INSTANCE_FAILED, what=f"instance {restore.instance_id}",
                                 poll_seconds=plan.poll_seconds,
                                 max_wait_seconds=max(plan.max_wait_seconds - plan.wait.waited_seconds, 1), now=now)

    # -- clean up -----------------------------------------------------------------------------
    def cleanup(self, execution: ExecutionRef | None) -> dict:
        """Delete what this execution's drill made. Safe to run twice and after any failure.

        The names come from the execution's own drill id, never from the state: a plan in the execution
        input (Plan failed before writing its own) may name another drill. Plan may also have died
        between creating the drill snapshot and returning, so every region is looked at, and each
        resource's live DrillId tag must be this drill's before it is deleted.
        """
        result: dict = {"drill_id": None, "deleted_instance": None, "deleted_snapshot": None, "already_gone": []}
        if execution is not None:
            drill_id = result["drill_id"] = execution.drill_id
            instance_id, snapshot_id = DRILL_INSTANCE_PREFIX + drill_id, DRILL_SNAPSHOT_PREFIX + drill_id
            regions = [self.primary_region] + ([self.settings.dr_region] if self.settings.dr_region else [])
            deleted = [r for r in regions if self._delete_owned_instance(self.rds(r), instance_id, drill_id)]
            if deleted:
                result["deleted_instance"] = instance_id
            else:
                result["already_gone"].append(instance_id)
            # Drill snapshots are taken in the primary region only (mode "fresh").
            if self._delete_owned_snapshot(self.rds(self.primary_region), snapshot_id, drill_id):
                result["deleted_snapshot"] = snapshot_id
            else:
                result["already_gone"].append(snapshot_id)
        result["cleaned_at"] = self.clock().isoformat()
        return result

    def _delete_owned_instance(self, rds: RdsRegion, instance_id: str, drill_id: str | None) -> bool:
        try:
            instance = rds.instance(instance_id)
        except NotFound:
            return False
        guard.require_drill_owned("instance", instance_id, instance.tags, drill_id)
        if instance.status == "deleting":
            return True
        rds.delete_instance(instance_id, required_tags=contracts.DRILL_TAGS)
        return True

    def _delete_owned_snapshot(self, rds: RdsRegion, snapshot_id: str, drill_id: str | None) -> bool:
        try:
            snapshot = rds.snapshot(snapshot_id)
        except NotFound:
            return False
        guard.require_drill_owned("snapshot", snapshot_id, snapshot.tags, drill_id)
        rds.delete_snapshot(snapshot_id, required_tags=contracts.DRILL_TAGS)
        return True

    def sweep(self) -> dict:
        """Delete every drill instance and drill snapshot whose Expiry tag has passed, in each region."""
        now = self.clock()
        swept: dict = {"instances": [], "snapshots": [], "errors": []}
        regions = [self.primary_region] + ([self.settings.dr_region] if self.settings.dr_region else [])
        for region in regions:
            rds = self.rds(region)
            for instance in rds.instances():
                if _expired(instance.tags, now) and instance.instance_id.startswith(DRILL_INSTANCE_PREFIX):
                    self._sweep_one(swept, "instances", region, instance.instance_id,
                                    partial(self._delete_owned_instance, rds, instance.instance_id, None))
            for snapshot in rds.snapshots():
                if _expired(snapshot.tags, now) and snapshot.snapshot_id.startswith(DRILL_SNAPSHOT_PREFIX):
                    self._sweep_one(swept, "snapshots", region, snapshot.snapshot_id,
                                    partial(self._delete_owned_snapshot, rds, snapshot.snapshot_id, None))
        return swept

    @staticmethod
    def _sweep_one(swept: dict, kind: str, region: str, resource_id: str, delete: Callable[[], bool]) -> None:
        try:
            if delete():
                swept[kind].append(f"{region}/{resource_id}")
        except Exception as exc:  # one stuck resource must not stop the sweep; reported, retried next hour
            swept["errors"].append(f"{region}/{resource_id}: {exc}")


def _expired(tags: dict[str, str], now: datetime) -> bool:
    expiry = parse_time(tags.get(contracts.EXPIRY_TAG)) if guard.is_drill_resource(tags) else None
    return expiry is not None and expiry <= now


def _recency(snapshot: Snapshot) -> tuple[datetime, datetime]:
    """Newest by when RDS created it (a future-dated slot tag must not keep an old backup "latest");
    the slot only breaks ties between snapshots created in the same second."""
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return snapshot.created_at or oldest, snapshot.slot or oldest


def _snapshot_point(snapshot: Snapshot) -> RecoveryPoint:
    # The data's time: a DR-region copy's own create time is when it was copied, which flatters the RPO.
    return RecoveryPoint(kind="snapshot", snapshot_id=snapshot.snapshot_id, snapshot_arn=snapshot.arn,
                         time=snapshot.recovery_point_time, encrypted=snapshot.encrypted)


def _require_plan(state: DrillState) -> DrillPlan:
    if state.plan is None:
        raise ValueError("this step needs $.plan (the Plan task's result)")
    return state.plan
