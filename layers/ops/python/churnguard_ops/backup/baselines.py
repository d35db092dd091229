"""Record per-table row counts of a source database when its snapshot is taken.

Restore drills compare the restored copy against this baseline. Backups write it because a backup
tick is the only moment that knows which snapshot the counts belong to; the document's key
(``contracts.baseline_key``) is the contract between the two capabilities.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.ports import Credentials, Documents, RdsRegion

if TYPE_CHECKING:
    from churnguard_ops.core.postgres import SslMode


class PostgresBaselineRecorder:
    """``sslmode``/``sslrootcert`` are passed to every connection (BACKUP_DB_SSLMODE, BACKUP_DB_SSLROOTCERT)."""

    def __init__(self, secrets: dict[str, str], rds: RdsRegion, credentials: Credentials, documents: Documents,
                 statement_timeout_ms: int = 60_000, clock: Clock = utcnow, *, sslmode: SslMode | None = None,
                 sslrootcert: str | None = None) -> None:
        self.secrets = secrets
        self.rds = rds
        self.credentials = credentials
        self.documents = documents
        self.statement_timeout_ms = statement_timeout_ms
        self.clock = clock
        self.sslmode = sslmode
        self.sslrootcert = sslrootcert

    def configured(self, instance_id: str) -> bool:
        return instance_id in self.secrets

    def record(self, instance_id: str, snapshot_id: str) -> str:
        """Counts the source's tables (read-only) and stores them next to the snapshot id. Idempotent."""
        from churnguard_ops.core.postgres import connect  # psycopg2 loads only where a baseline is taken
        from churnguard_ops.core.row_counts import capture_baseline

        key = contracts.baseline_key(instance_id, snapshot_id)
        if self.documents.load(key) is not None:  # a retried tick: the first capture is the right one
            return self.documents.location(key)
        instance = self.rds.instance(instance_id)
        creds = self.credentials.get(self.secrets[instance_id])
        if not instance.address or not instance.port:
            raise ValueError(f"{instance_id} has no endpoint (status {instance.status})")
        conn = connect(host=instance.address, port=int(instance.port), user=creds["username"],
                       password=creds.get("password"), dbname=instance.db_name or creds.get("dbname") or "postgres",
                       application_name="churnguard-ops-backup-baseline", sslmode=self.sslmode,
                       sslrootcert=self.sslrootcert)
        try:
            tables = capture_baseline(conn, statement_timeout_ms=self.statement_timeout_ms)
        finally:
            conn.close()
        return self.documents.save(key, {"instance_id": instance_id, "snapshot_id": snapshot_id,
                                         "captured_at": self.clock().isoformat(), "tables": tables})
