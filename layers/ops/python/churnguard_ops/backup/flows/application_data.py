"""Application-data backups: versioning and noncurrent-version retention on the configured buckets."""
from __future__ import annotations

from churnguard_ops.backup.events import BackupTick
from churnguard_ops.backup.model import BackupReport, TargetOutcome
from churnguard_ops.backup.policy import BackupPolicy
from churnguard_ops.backup.ports import BucketGuard
from churnguard_ops.core.errors import OpsError


class ApplicationDataProtection:
    def __init__(self, app_data_buckets: list[str], *, buckets: BucketGuard) -> None:
        self.app_data_buckets = app_data_buckets
        self.buckets = buckets

    def run(self, report: BackupReport, policy: BackupPolicy, tick: BackupTick) -> None:
        if not self.app_data_buckets:
            report.outcomes.append(TargetOutcome(target="s3", action="protect", status="skipped",
                                                 detail="no application-data buckets configured"))
        for bucket in self.app_data_buckets:
            try:
                changes = self.buckets.protect(bucket, policy.retention_days)
                outcome = TargetOutcome(target=f"s3://{bucket}", action="protect", status="succeeded",
                                        detail=f"versioning on, noncurrent versions kept {policy.retention_days} "
                                               f"days{'; changed ' + ', '.join(changes) if changes else ''}",
                                        data={"changed": list(changes)})
                if policy.cross_region and not self.buckets.replication_rules(bucket):
                    outcome.status = "failed"
                    outcome.detail += "; policy requires cross-region replication but the bucket has none"
            except OpsError as exc:
                outcome = TargetOutcome(target=f"s3://{bucket}", action="protect", status="failed",
                                        detail=str(exc))
            report.outcomes.append(outcome)
