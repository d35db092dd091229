"""One backup tick: the use case behind the scheduled Lambda.

Every target is tried; a failure is recorded as that target's outcome and never stops the others.
The handler fails the invocation afterwards if anything failed, so EventBridge/Lambda retries and
the DLQ apply, and a retry is cheap because snapshot ids come from the schedule slot.

Each policy's flow lives in its own module under ``flows/`` and receives only its own ports;
``FLOWS`` is the one table from policy name to flow.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta, timezone

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.flows.application_data import ApplicationDataProtection
from churnguard_ops.backup.flows.base import PolicyFlow
from churnguard_ops.backup.flows.configuration import ConfigurationExport
from churnguard_ops.backup.flows.database import BUSY_STATES, DatabaseBackups, InstanceBusy, UnknownTarget
from churnguard_ops.backup.model import BackupReport
from churnguard_ops.backup.ports import BaselineRecorder, BucketGuard, Encryptor, ParameterSource, SnapshotStore
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.errors import InvalidEvent, OpsError
from churnguard_ops.core.ports import MetricsSink, ObjectWriter

__all__ = ["BUSY_STATES", "FLOWS", "BackupService", "InstanceBusy", "UnknownPolicy", "UnknownTarget"]


class UnknownPolicy(OpsError):
    """A tick named a policy that has no flow (or no settings)."""


@dataclass(frozen=True)
class BackupDependencies:
    """Everything the composition root provides; each flow factory picks only what its flow uses."""

    settings: BackupSettings
    primary: SnapshotStore
    dr: SnapshotStore | None
    metrics: MetricsSink
    parameters: ParameterSource
    encryptor: Encryptor
    objects: ObjectWriter
    buckets: BucketGuard
    baselines: BaselineRecorder | None
    clock: Clock
    dr_encryptor: Encryptor | None = None  # the DR region's key, for the DR copy of configuration exports


def _database(d: BackupDependencies) -> PolicyFlow:
    return DatabaseBackups(d.settings, primary=d.primary, dr=d.dr, metrics=d.metrics, baselines=d.baselines,
                           clock=d.clock)


def _configuration(d: BackupDependencies) -> PolicyFlow:
    return ConfigurationExport(d.settings, parameters=d.parameters, encryptor=d.encryptor, objects=d.objects,
                               clock=d.clock, dr_encryptor=d.dr_encryptor)


def _application_data(d: BackupDependencies) -> PolicyFlow:
    return ApplicationDataProtection(d.settings.app_data_buckets, buckets=d.buckets)


#: Policy name -> the flow that backs it up. A unit test proves it covers policy.POLICY_NAMES exactly.
FLOWS: dict[str, Callable[[BackupDependencies], PolicyFlow]] = {
    "database": _database,
    "configuration": _configuration,
    "application_data": _application_data,
}


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


class BackupService:
    def __init__(self, settings: BackupSettings, *, primary: SnapshotStore, dr: SnapshotStore | None,
                 metrics: MetricsSink, parameters: ParameterSource, encryptor: Encryptor,
                 objects: ObjectWriter, buckets: BucketGuard, baselines: BaselineRecorder | None = None,
                 clock: Clock = utcnow, dr_encryptor: Encryptor | None = None) -> None:
        self.settings = settings
        self.primary = primary
        self.dr = dr
        self.metrics = metrics
        self.parameters = parameters
        self.encryptor = encryptor
        self.dr_encryptor = dr_encryptor
        self.objects = objects
        self.buckets = buckets
        self.baselines = baselines
        self.clock = clock

    def _dependencies(self) -> BackupDependencies:
        return BackupDependencies(self.settings, self.primary, self.dr, self.metrics, self.parameters,
                                  self.encryptor, self.objects, self.buckets, self.baselines, self.clock,
                                  self.dr_encryptor)

    def _refuse_stale_or_future(self, tick: BackupTick) -> None:
        """Before any AWS call: a replayed old event would make a backup expired at birth, a future one a
        snapshot that stays "newest" until that date."""
        age = self.clock() - tick.time
        limit = timedelta(minutes=self.settings.max_event_age_minutes)
        if age > limit:
            raise InvalidEvent(f"time: {tick.time.isoformat()} is {_minutes(age)} old, more than the "
                               f"{self.settings.max_event_age_minutes} min an EventBridge or Lambda retry can "
                               "take; refusing a replayed event (take a fresh backup with an on-demand run)")
        skew = timedelta(minutes=self.settings.max_clock_skew_minutes)
        if -age > skew:
            raise InvalidEvent(f"time: {tick.time.isoformat()} is {_minutes(-age)} in the future (allowed clock "
                               f"skew {self.settings.max_clock_skew_minutes} min); check the sender's clock")

    def run(self, tick: BackupTick) -> BackupReport:
        name = tick.detail.policy
        build_flow = FLOWS.get(name)
        policy = self.settings.policies.get(name)
        if build_flow is None or policy is None:
            raise UnknownPolicy(f"no backup flow for policy {name!r}; known: {sorted(FLOWS)}")
        self._refuse_stale_or_future(tick)
        # A schedule's tick belongs to its period (retries map to one backup); an on-demand run is its instant.
        slot = tick.time.astimezone(timezone.utc).replace(microsecond=0) if tick.detail.on_demand \
            else policy.slot_of(tick.time)
        report = BackupReport(policy=name, slot=slot, on_demand=tick.detail.on_demand)
        build_flow(self._dependencies()).run(report, policy, tick)
        failed = len(report.failures)
        self.metrics.put("BackupTargetsFailed", failed, "Count", {"Policy": name})
        self.metrics.put("BackupTargetsSucceeded", len(report.outcomes) - failed, "Count", {"Policy": name})
        return report
