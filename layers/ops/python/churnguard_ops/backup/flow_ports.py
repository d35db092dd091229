"""The ports and settings every backup flow works with (shared base of the flow mixins)."""
from __future__ import annotations

from churnguard_ops.backup.ports import (BaselineRecorder, BucketGuard, Encryptor, MetricsSink, ObjectStore,
                                         ParameterSource, SnapshotStore)
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.clock import Clock


class BackupPorts:
    settings: BackupSettings
    primary: SnapshotStore
    dr: SnapshotStore | None
    metrics: MetricsSink
    parameters: ParameterSource
    encryptor: Encryptor
    objects: ObjectStore
    buckets: BucketGuard
    baselines: BaselineRecorder | None
    clock: Clock
