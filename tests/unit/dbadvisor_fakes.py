"""Fakes of the PostgreSQL advisor's ports, and builders of catalog rows (defaults: a healthy, idle database)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from churnguard_ops.dbadvisor.model import (
    CatalogSnapshot,
    ColumnStats,
    DatabaseHealth,
    IndexInfo,
    StatementsAvailability,
    StatementStats,
    TableStats,
)

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)


def health(**overrides: Any) -> DatabaseHealth:
    values: dict[str, Any] = dict(database="app", stats_reset=None, blks_hit=99_000, blks_read=1_000, xid_age=1000,
                                  oldest_xid_age=1000, oldest_xid_database="app",
                                  autovacuum_freeze_max_age=200_000_000, max_connections=100,
                                  reserved_connections=3, connections=5, server_version="16.4")
    values.update(overrides)
    return DatabaseHealth(**values)


def table(name: str, *, schema: str = "public", rows: int = 20_000, seq_scan: int = 50, idx_scan: int = 0,
          columns: tuple[str, ...] = ("id", "org_id", "kind", "occurred_at"), modified: int = 0) -> TableStats:
    return TableStats(schema=schema, table=name, seq_scan=seq_scan, seq_tup_read=seq_scan * rows, idx_scan=idx_scan,
                      n_live_tup=rows, n_dead_tup=0, n_mod_since_analyze=modified, last_analyze=None,
                      size_bytes=rows * 64, columns=columns)


def index(name: str, table_name: str, columns: tuple[str | None, ...], *, schema: str = "public",
          scans: int = 0, primary: bool = False, unique: bool = False, exclusion: bool = False,
          constraint: str | None = None, predicate: str | None = None, method: str = "btree",
          valid: bool = True, partitioned: bool = False, attached_to: str | None = None) -> IndexInfo:
    parts = tuple(f"{c or 'lower(x)'} {'int8_ops'} 0 0" for c in columns)
    return IndexInfo(schema=schema, table=table_name, index=name, method=method, columns=columns, key_parts=parts,
                     key_signature=" | ".join(parts), predicate=predicate, is_primary=primary, is_unique=unique,
                     is_exclusion=exclusion, backs_constraint=constraint, is_valid=valid, idx_scan=scans,
                     size_bytes=8192 * 10, definition=f"CREATE INDEX {name} ON {schema}.{table_name} ({columns})",
                     partitioned=partitioned, attached_to=attached_to)


def stats(table_name: str, column: str, n_distinct: float, mcf: tuple[float, ...] = (), *,
          schema: str = "public") -> ColumnStats:
    return ColumnStats(schema, table_name, column, n_distinct, mcf, 0.0)


def statement(query: str, *, queryid: str = "1", calls: int = 100, mean_ms: float = 5.0) -> StatementStats:
    return StatementStats(queryid, query, calls, mean_ms, calls * mean_ms, calls, 900, 100)


def snapshot(**overrides: Any) -> CatalogSnapshot:
    values: dict[str, Any] = dict(health=health(), tables=[], indexes=[], column_stats=[], statements=[],
                                  statements_availability=StatementsAvailability(True))
    values.update(overrides)
    return CatalogSnapshot(**values)


class FakeCatalogReader:
    def __init__(self, snap: CatalogSnapshot, *, refuse_analyze: frozenset[str] = frozenset()) -> None:
        self.snap = snap
        self.refuse_analyze = refuse_analyze
        self.analyzed: list[tuple[str, str]] = []
        self.reads: list[tuple[int, float]] = []

    def snapshot(self, *, top: int, slow_ms: float) -> CatalogSnapshot:
        self.reads.append((top, slow_ms))
        return self.snap

    def analyze(self, tables: list[tuple[str, str]]) -> dict[str, str]:
        self.analyzed += tables
        return {f"{s}.{t}": ("not analyzed: must be owner" if t in self.refuse_analyze else "analyzed")
                for s, t in tables}


class FakeConnector:
    """Instance id -> a reader (or an exception to raise when opened)."""

    def __init__(self, readers: dict[str, FakeCatalogReader | Exception]) -> None:
        self.readers = readers
        self.closed: list[str] = []

    @contextmanager
    def open(self, db_instance_id: str) -> Iterator[tuple[FakeCatalogReader, str]]:
        reader = self.readers[db_instance_id]
        if isinstance(reader, Exception):
            raise reader
        try:
            yield reader, f"db_{db_instance_id.replace('-', '_')}"
        finally:
            self.closed.append(db_instance_id)


class MemoryReportStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, str]] = {}

    def put(self, key: str, body: str, content_type: str) -> str:
        self.objects[key] = (body, content_type)
        return f"s3://ops-bucket/{key}"


if TYPE_CHECKING:  # mypy proves every fake satisfies its port
    from churnguard_ops.dbadvisor import ports

    _reader: ports.CatalogReader = FakeCatalogReader(snapshot())
    _connector: ports.DatabaseConnector = FakeConnector({})
    _store: ports.ReportStore = MemoryReportStore()
