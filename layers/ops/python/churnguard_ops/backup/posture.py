"""Posture audit: the RDS settings the seed requires of every production instance."""
from __future__ import annotations

from churnguard_ops.backup.model import PostureFinding
from churnguard_ops.core.rds_model import DbInstance

MIN_BACKUP_RETENTION_DAYS = 30


def audit(instance: DbInstance) -> list[PostureFinding]:
    def finding(check: str, passed: bool, detail: str) -> PostureFinding:
        return PostureFinding(instance_id=instance.instance_id, check=check, passed=passed, detail=detail)

    return [
        finding("storage_encrypted", instance.storage_encrypted,
                "storage is encrypted" if instance.storage_encrypted else "storage is NOT encrypted"),
        finding("multi_az", instance.multi_az, "Multi-AZ" if instance.multi_az else "single-AZ"),
        finding("backup_retention", instance.backup_retention_days >= MIN_BACKUP_RETENTION_DAYS,
                f"automated backups kept {instance.backup_retention_days} days "
                f"(need >= {MIN_BACKUP_RETENTION_DAYS})"),
        finding("deletion_protection", instance.deletion_protection,
                "deletion protection on" if instance.deletion_protection else "deletion protection off"),
        finding("performance_insights", instance.performance_insights,
                "Performance Insights on" if instance.performance_insights else "Performance Insights off"),
    ]
