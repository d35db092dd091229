"""Database backups: prune, quota, snapshot every configured instance, copy to the DR region."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from churnguard_ops.backup import naming
from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.model import BackupReport, TargetOutcome
from churnguard_ops.backup.policy import BackupPolicy
from churnguard_ops.backup.ports import BaselineRecorder, SnapshotStore
from churnguard_ops.backup.recoverability import measure
from churnguard_ops.backup.retention import expired_snapshots, failed_backups
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.errors import AlreadyExists, InvalidEvent, OpsError
from churnguard_ops.core.ports import MetricsSink
from churnguard_ops.core.rds_model import Snapshot


class UnknownTarget(InvalidEvent):
    """A manual run named an instance that is not in the configured backup targets."""


class InstanceBusy(OpsError):
    """The instance is in a transient state in which RDS refuses CreateDBSnapshot."""


# Transient states in which CreateDBSnapshot is refused; anything else non-available is a real failure.
BUSY_STATES = frozenset({"backing-up", "modifying", "upgrading", "storage-optimization", "maintenance",
                         "configuring-enhanced-monitoring", "configuring-log-exports", "rebooting", "renaming",
                         "resetting-master-credentials", "starting", "creating"})


_EPOCH = datetime.fromtimestamp(0, tz=timezone.utc)


def _creation_order(snapshot: Snapshot) -> tuple[datetime, datetime]:
    """When RDS created it; the slot only breaks ties (snapshots of one tick share a create second)."""
    return snapshot.created_at or _EPOCH, snapshot.slot or _EPOCH


class DatabaseBackups:
    def __init__(self, settings: BackupSettings, *, primary: SnapshotStore, dr: SnapshotStore | None,
                 metrics: MetricsSink, baselines: BaselineRecorder | None, clock: Clock) -> None:
        self.settings = settings
        self.primary = primary
        self.dr = dr
        self.metrics = metrics
        self.baselines = baselines
        self.clock = clock

    def run(self, report: BackupReport, policy: BackupPolicy, tick: BackupTick) -> None:
        targets = self._targets(tick)
        retention_date = (report.slot + timedelta(days=tick.detail.retention_days) if tick.detail.retention_days
                          else policy.retention_date(report.slot))
        if policy.cross_region and self.dr:
            # Before any pruning: a primary whose retention an operator extended must not lose its DR copy.
            self._extend_dr_retention(report)
        headroom = {store.region: self._prune_and_measure(report, store) for store in self._stores(policy)}
        room = headroom.get(self.primary.region)
        for instance_id in targets:
            if self._snapshot_instance(report, retention_date, instance_id, room) and room is not None:
                room -= 1
        if policy.cross_region and self.dr:
            self._copy_to_dr(report, targets)

    def _targets(self, tick: BackupTick) -> list[str]:
        configured = self.settings.db_instance_ids
        wanted = tick.detail.db_instance_ids or configured
        unknown = sorted(set(wanted) - set(configured))
        if unknown:  # guard: a manual event must not snapshot or prune arbitrary instances
            raise UnknownTarget(f"detail.db_instance_ids: not configured for backups: {unknown}; "
                                f"configured: {configured}")
        return list(wanted)

    def _stores(self, policy: BackupPolicy) -> list[SnapshotStore]:
        return [self.primary, self.dr] if policy.cross_region and self.dr else [self.primary]

    def _prune_and_measure(self, report: BackupReport, store: SnapshotStore) -> int | None:
        """Prune first so the quota check sees the room pruning made.

        Returns how many snapshots can still be created, or None when the region could not be listed
        (unknown is not full: the create call itself will say if the quota is reached).
        """
        target = f"region:{store.region}"
        try:
            manual = store.snapshots()
            expired = expired_snapshots(manual, self.clock(), self.settings.keep_latest)
        except OpsError as exc:
            report.outcomes.append(TargetOutcome(target=target, action="prune", status="failed", detail=str(exc)))
            return None
        failed = failed_backups(manual)  # failed copies pile up against the quota and block a re-copy
        doomed = expired + [s for s in failed if s not in expired]
        deleted: list[str] = []
        for snapshot in doomed:
            try:
                store.delete_snapshot(snapshot.snapshot_id, required_tags=contracts.OWNED_TAGS)
                deleted.append(snapshot.snapshot_id)
            except OpsError as exc:
                report.outcomes.append(TargetOutcome(target=snapshot.snapshot_id, action="prune",
                                                     status="failed", detail=str(exc)))
        removed_failed = [s.snapshot_id for s in failed if s.snapshot_id in deleted]
        report.outcomes.append(TargetOutcome(
            target=target, action="prune", status="succeeded" if deleted else "skipped",
            detail=(f"deleted {len(deleted) - len(removed_failed)} expired and {len(removed_failed)} failed "
                    f"snapshot(s)") if deleted else "nothing expired",
            data={"deleted": deleted, "failed_removed": removed_failed}))
        used = len(manual) - len(deleted)
        quota = self.settings.manual_snapshot_quota
        self.metrics.put("ManualSnapshotQuotaUsedRatio", used / quota, "None", {"Region": store.region})
        if used / quota >= self.settings.quota_warn_ratio:
            report.outcomes.append(TargetOutcome(
                target=target, action="quota", status="succeeded" if used < quota else "failed",
                detail=f"manual snapshots {used}/{quota}: close to the RDS quota"))
        return max(quota - used, 0)

    def _snapshot_instance(self, report: BackupReport, retention_date: datetime, instance_id: str,
                           headroom: int | None) -> bool:
        """Returns True when a new snapshot was created (it uses up one unit of headroom)."""
        now = self.clock()
        try:
            instance = self.primary.instance(instance_id)
        except OpsError as exc:
            report.outcomes.append(TargetOutcome(target=instance_id, action="snapshot", status="failed",
                                                 detail=str(exc)))
            return False
        report.posture.extend(measure(instance, now, self.metrics))
        dims = {"DBInstanceIdentifier": instance_id}

        snapshot_id = naming.snapshot_id(instance_id, report.policy, report.slot, on_demand=report.on_demand)
        tags = naming.snapshot_tags(instance_id, report.policy, report.slot, retention_date,
                                    on_demand=report.on_demand)
        outcome = TargetOutcome(target=instance_id, action="snapshot", status="succeeded",
                                data={"snapshot_id": snapshot_id, "region": self.primary.region})
        try:
            if headroom is not None and headroom <= 0:
                raise OpsError(f"no manual-snapshot headroom in {self.primary.region} "
                               f"(quota {self.settings.manual_snapshot_quota}); not creating {snapshot_id}")
            if instance.status in BUSY_STATES:
                raise InstanceBusy(instance.status)
            self.primary.create_snapshot(instance_id, snapshot_id, tags)
            outcome.detail = f"created {snapshot_id}"
        except InstanceBusy as busy:
            # RDS refuses snapshots while it is busy (its own backup window, a modification): retrying
            # within minutes would only fill the DLQ; the next tick takes it, and the age alarm watches.
            outcome.status, outcome.detail = "deferred", f"{instance_id} is {busy}; the next tick snapshots it"
        except AlreadyExists:
            outcome.status, outcome.detail = "exists", f"{snapshot_id} already exists (retried or duplicate tick)"
        except OpsError as exc:
            outcome.status, outcome.detail = "failed", str(exc)
        report.outcomes.append(outcome)
        if outcome.status == "succeeded":
            # Only right after creating: counts taken on a later retry would not match the snapshot.
            self._record_baseline(report, instance_id, snapshot_id)
        self._publish_freshness(instance_id, dims)
        return outcome.status == "succeeded"

    def _record_baseline(self, report: BackupReport, instance_id: str, snapshot_id: str) -> None:
        if self.baselines is None or not self.baselines.configured(instance_id):
            return
        try:
            location = self.baselines.record(instance_id, snapshot_id)
            report.outcomes.append(TargetOutcome(target=instance_id, action="baseline", status="succeeded",
                                                 detail=f"row counts at snapshot time in {location}",
                                                 data={"location": location}))
        except Exception as exc:  # DB unreachable, bad secret...: reported, and the tick is retried
            report.outcomes.append(TargetOutcome(target=instance_id, action="baseline", status="failed",
                                                 detail=f"could not record the row-count baseline: {exc}"))

    def _publish_freshness(self, instance_id: str, dims: dict[str, str]) -> None:
        try:
            created = [s.created_at for s in self.primary.snapshots(instance_id, manual_only=False)
                       if s.available and s.created_at is not None]
        except OpsError:
            return  # the snapshot outcome already carries the error; a missing datapoint alarms
        if created:
            newest = max(created)
            self.metrics.put("SnapshotAgeSeconds", (self.clock() - newest).total_seconds(), "Seconds", dims)

    def _copy_to_dr(self, report: BackupReport, targets: list[str]) -> None:
        """Copy each instance's newest available snapshot that the DR region lacks.

        Copies still in flight count against the limit; the rest wait for the next tick
        (outcome ``deferred``) instead of failing on the RDS concurrent-copy limit.
        """
        assert self.dr is not None
        try:
            in_dr = self.dr.snapshots()
            ours_here = [s for s in self.primary.snapshots() if s.is_backup and s.available]
        except OpsError as exc:
            report.outcomes.append(TargetOutcome(target=f"region:{self.dr.region}", action="copy",
                                                 status="failed", detail=str(exc)))
            return
        present = {s.snapshot_id: s for s in in_dr}
        in_flight = sum(1 for s in in_dr if s.ours and s.in_flight)
        now = self.clock()
        for instance_id in targets:
            family = [s for s in ours_here if s.source_instance == instance_id
                      and (s.retention_date is None or s.retention_date > now)]
            if not family:
                continue
            # Newest by when RDS made it, not by a slot in its name or tags: a future-dated slot must not
            # stay "newest" and stop every later backup from reaching the DR region.
            newest = max(family, key=_creation_order)
            existing = present.get(newest.snapshot_id)
            if existing is not None and not existing.failed and existing.status != "deleting":
                continue  # available, or still copying: present
            outcome = TargetOutcome(target=instance_id, action="copy", status="succeeded",
                                    data={"snapshot_id": newest.snapshot_id, "region": self.dr.region})
            if existing is not None:
                # A failed copy is not a recovery point. Pruning removes it; RDS frees the id once it is gone.
                outcome.status = "deferred"
                outcome.detail = (f"the copy of {newest.snapshot_id} in {self.dr.region} is {existing.status}; "
                                  f"the next tick copies it again once it is removed")
            elif in_flight >= self.settings.max_copies_in_flight:
                outcome.status = "deferred"
                outcome.detail = (f"{in_flight} copies in flight to {self.dr.region} "
                                  f"(limit {self.settings.max_copies_in_flight}); next tick copies it")
            else:
                try:
                    self.dr.copy_from(newest, self.settings.dr_kms_key_id,
                                      {**newest.tags, contracts.COPIED_FROM_TAG: newest.arn})
                    in_flight += 1
                    outcome.detail = f"copying {newest.snapshot_id} to {self.dr.region}"
                except AlreadyExists:
                    outcome.status, outcome.detail = "exists", "copy already exists"
                except OpsError as exc:
                    outcome.status, outcome.detail = "failed", str(exc)
            report.outcomes.append(outcome)
        self._publish_dr_freshness(in_dr, targets, now)

    def _extend_dr_retention(self, report: BackupReport) -> None:
        """Carry a retention an operator extended on a primary backup to its DR copy (never shortens one)."""
        assert self.dr is not None
        try:
            primary = {s.snapshot_id: s for s in self.primary.snapshots() if s.is_backup}
            copies = [s for s in self.dr.snapshots() if s.is_backup and s.snapshot_id in primary]
        except OpsError as exc:
            report.outcomes.append(TargetOutcome(target=f"region:{self.dr.region}", action="retention",
                                                 status="failed", detail=str(exc)))
            return
        for copy in copies:
            wanted = primary[copy.snapshot_id].retention_date
            if wanted is None or (copy.retention_date is not None and copy.retention_date >= wanted):
                continue
            value = primary[copy.snapshot_id].tags[contracts.RETENTION_DATE_TAG]
            outcome = TargetOutcome(target=copy.snapshot_id, action="retention", status="succeeded",
                                    detail=f"DR copy in {self.dr.region} kept until {value}, as its primary",
                                    data={"region": self.dr.region, "retention_date": value})
            try:
                self.dr.tag_snapshot(copy, {contracts.RETENTION_DATE_TAG: value})
            except OpsError as exc:
                outcome.status, outcome.detail = "failed", f"could not extend the DR copy's retention: {exc}"
            report.outcomes.append(outcome)

    def _publish_dr_freshness(self, in_dr: list[Snapshot], targets: list[str], now: datetime) -> None:
        """Age of the newest recovery point restorable in the DR region, per instance (what DR would lose).

        No datapoint when there is none at all: the alarm treats missing data as breaching.
        """
        for instance_id in targets:
            restorable = [s.recovery_point_time for s in in_dr if s.is_backup and s.available
                          and s.source_instance == instance_id and s.recovery_point_time is not None]
            if restorable:
                age = (now - max(t for t in restorable if t is not None)).total_seconds()
                self.metrics.put("DrRecoveryPointAgeSeconds", max(age, 0.0), "Seconds",
                                 {"DBInstanceIdentifier": instance_id})
