"""One backup tick: the use case behind the scheduled Lambda.

Every target is tried; a failure is recorded as that target's outcome and never stops the others.
The handler fails the invocation afterwards if anything failed, so EventBridge/Lambda retries and
the DLQ apply, and a retry is cheap because snapshot ids come from the schedule slot. Each policy's
flow lives in its own module (database, configuration, application_data).
"""
from __future__ import annotations

from churnguard_ops.backup.application_data import ApplicationDataProtection
from churnguard_ops.backup.configuration import ConfigurationExport
from churnguard_ops.backup.database import BUSY_STATES, DatabaseBackups, InstanceBusy, UnknownTarget
from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.model import BackupReport
from churnguard_ops.backup.ports import (BaselineRecorder, BucketGuard, Encryptor, MetricsSink, ObjectStore,
                                         ParameterSource, SnapshotStore)
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.clock import Clock, utcnow

__all__ = ["BUSY_STATES", "BackupService", "InstanceBusy", "UnknownTarget"]


class BackupService(DatabaseBackups, ConfigurationExport, ApplicationDataProtection):
    def __init__(self, settings: BackupSettings, *, primary: SnapshotStore, dr: SnapshotStore | None,
                 metrics: MetricsSink, parameters: ParameterSource, encryptor: Encryptor,
                 objects: ObjectStore, buckets: BucketGuard, baselines: BaselineRecorder | None = None,
                 clock: Clock = utcnow) -> None:
        self.settings = settings
        self.primary = primary
        self.dr = dr
        self.metrics = metrics
        self.parameters = parameters
        self.encryptor = encryptor
        self.objects = objects
        self.buckets = buckets
        self.baselines = baselines
        self.clock = clock

    def run(self, tick: BackupTick) -> BackupReport:
        name = tick.detail.policy
        policy = self.settings.policies[name]
        report = BackupReport(policy=name, slot=policy.slot_of(tick.time))
        if name == "database":
            self._database(report, policy, self._targets(tick))
        elif name == "configuration":
            self._configuration(report, policy)
        else:
            self._application_data(report, policy)
        failed = len(report.failures)
        self.metrics.put("BackupTargetsFailed", failed, "Count", {"Policy": name})
        self.metrics.put("BackupTargetsSucceeded", len(report.outcomes) - failed, "Count", {"Policy": name})
        return report
