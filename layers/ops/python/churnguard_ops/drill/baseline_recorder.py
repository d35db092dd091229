"""Record per-table row counts of a source database when its snapshot is taken.

The drill compares the restored copy against this baseline. It is written by the backup tick (the
only moment that knows which snapshot the counts belong to) and read by the drill's validate step.
"""
from __future__ import annotations

from datetime import datetime, timezone

from churnguard_ops.drill.ports import DrillRds
from churnguard_ops.drill.stores import S3Documents, SecretsManagerCredentials


class BaselineRecorder:
    def __init__(self, secrets: dict[str, str], rds: DrillRds, credentials: SecretsManagerCredentials,
                 documents: S3Documents, statement_timeout_ms: int = 60_000) -> None:
        self.secrets = secrets
        self.rds = rds
        self.credentials = credentials
        self.documents = documents
        self.statement_timeout_ms = statement_timeout_ms

    def configured(self, instance_id: str) -> bool:
        return instance_id in self.secrets

    def record(self, instance_id: str, snapshot_id: str) -> str:
        """Counts the source's tables (read-only) and stores them next to the snapshot id. Idempotent."""
        from churnguard_ops.drill.baseline import capture_baseline
        from churnguard_ops.drill.sql import connect

        key = self.documents.baseline_key(instance_id, snapshot_id)
        if self.documents.load(key) is not None:  # a retried tick: the first capture is the right one
            return f"s3://{self.documents.bucket}/{key}"
        instance = self.rds.instance(instance_id)
        creds = self.credentials.get(self.secrets[instance_id])
        if not instance.address or not instance.port:
            raise ValueError(f"{instance_id} has no endpoint (status {instance.status})")
        conn = connect(host=instance.address, port=int(instance.port), user=creds["username"],
                       password=creds.get("password"), dbname=instance.db_name or creds.get("dbname") or "postgres",
                       application_name="churnguard-ops-backup-baseline")
        try:
            tables = capture_baseline(conn, statement_timeout_ms=self.statement_timeout_ms)
        finally:
            conn.close()
        return self.documents.save(key, {"instance_id": instance_id, "snapshot_id": snapshot_id,
                                         "captured_at": datetime.now(timezone.utc).isoformat(), "tables": tables})
