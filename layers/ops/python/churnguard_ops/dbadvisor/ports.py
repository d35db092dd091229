"""What the advisor needs from the outside: a database to read, RDS to find it, a place for its documents."""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from churnguard_ops.core.rds_model import DbInstance
from churnguard_ops.dbadvisor.model import CatalogSnapshot


class CatalogReader(Protocol):
    """One database: its statistics (read-only), and ANALYZE of named tables (the one write, when configured)."""

    def snapshot(self, *, top: int, slow_ms: float) -> CatalogSnapshot: ...

    def analyze(self, tables: list[tuple[str, str]]) -> dict[str, str]: ...


class DatabaseConnector(Protocol):
    def open(self, db_instance_id: str) -> AbstractContextManager[tuple[CatalogReader, str]]:
        """A reader on the instance's database and the database's name; closed when the block ends."""
        ...


class InstanceLookup(Protocol):
    """The part of ``core.ports.RdsRegion`` the advisor uses: where an instance is."""

    def instance(self, instance_id: str) -> DbInstance: ...


class ReportStore(Protocol):
    def put(self, key: str, body: str, content_type: str) -> str:
        """Store ``body`` (UTF-8) under ``key``; returns its location (``s3://bucket/key``)."""
        ...
