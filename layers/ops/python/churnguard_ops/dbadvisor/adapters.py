"""Adapters of the advisor's ports: RDS + Secrets Manager + PostgreSQL for a database, S3 for documents."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from churnguard_ops.core.ports import Credentials
from churnguard_ops.core.postgres import SslMode
from churnguard_ops.dbadvisor.catalog import PostgresCatalog
from churnguard_ops.dbadvisor.ports import CatalogReader, InstanceLookup

APPLICATION_NAME = "churnguard-ops-dbadvisor"  # what DBAs see in pg_stat_activity


class RdsDatabaseConnector:
    """Finds the instance's endpoint with DescribeDBInstances, its credentials in Secrets Manager, and connects
    with TLS as configured (verify-full against the RDS CA bundle by default)."""

    def __init__(self, secrets: dict[str, str], databases: dict[str, str], rds: Callable[[str], InstanceLookup],
                 region: str, credentials: Credentials, *, sslmode: SslMode, sslrootcert: str | None,
                 statement_timeout_ms: int, connect_timeout_seconds: int = 10) -> None:
        self.secrets = secrets
        self.databases = databases
        self.rds = rds
        self.region = region
        self.credentials = credentials
        self.sslmode: SslMode = sslmode
        self.sslrootcert = sslrootcert
        self.statement_timeout_ms = statement_timeout_ms
        self.connect_timeout_seconds = connect_timeout_seconds

    @contextmanager
    def open(self, db_instance_id: str) -> Iterator[tuple[CatalogReader, str]]:
        from churnguard_ops.core.postgres import connect  # psycopg2 loads only where a connection is opened

        secret_id = self.secrets.get(db_instance_id)
        if not secret_id:
            raise ValueError(f"no credentials configured for {db_instance_id} (DBADVISOR_DB_SECRETS)")
        instance = self.rds(self.region).instance(db_instance_id)
        if not instance.address or not instance.port:
            raise ValueError(f"{db_instance_id} has no endpoint (status {instance.status})")
        creds = self.credentials.get(secret_id)
        database = self.databases.get(db_instance_id) or instance.db_name or creds.get("dbname") or "postgres"
        conn = connect(host=instance.address, port=int(instance.port), user=creds["username"],
                       password=creds.get("password", ""), dbname=database,
                       connect_timeout=self.connect_timeout_seconds, application_name=APPLICATION_NAME,
                       sslmode=self.sslmode, sslrootcert=self.sslrootcert)
        try:
            yield PostgresCatalog(conn, self.statement_timeout_ms), database
        finally:
            conn.close()

