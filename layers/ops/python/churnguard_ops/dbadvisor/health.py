"""Health findings: bloat, stale statistics, transaction-ID wraparound, connections, cache hit ratio."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from churnguard_ops.dbadvisor.model import BloatEstimate, DatabaseHealth, Finding, TableStats
from churnguard_ops.dbadvisor.naming import qualified_sql
from churnguard_ops.dbadvisor.thresholds import Thresholds

XID_LIMIT = 2**31  # transaction IDs are compared modulo 2^32: 2^31 is where old rows would turn "future"
_PAGE_HEADER = 24
_BTREE_SPECIAL = 16
_LINE_POINTER = 4
_INDEX_TUPLE_HEADER = 8


def _align(width: float, to: int = 8) -> float:
    return math.ceil(width / to) * to


def table_bloat(schema: str, table: str, relpages: int, reltuples: float, block_size: int, fillfactor: int,
                natts: int, nstats: int, data_width: float, max_null_frac: float, method: str) -> BloatEstimate | None:
    """Pages a table would need at its fill factor (heap tuple header 23 bytes + null bitmap, aligned; the row's
    average width from pg_stats; a 4-byte line pointer) against the pages it uses. None when some column has
    no statistics (the width would be wrong) or the table holds no rows."""
    if reltuples <= 0 or relpages <= 0 or nstats < natts:
        return None
    header = _align(23 + (math.ceil(natts / 8) if max_null_frac > 0 else 0))
    per_row = header + _align(data_width) + _LINE_POINTER
    usable = (block_size - _PAGE_HEADER) * fillfactor / 100
    expected = max(1, math.ceil(reltuples * per_row / usable))
    return BloatEstimate(schema, table, None, relpages * block_size, max(0, relpages - expected) * block_size, method)


def index_bloat(schema: str, table: str, index: str, relpages: int, reltuples: float, block_size: int,
                fillfactor: int, natts: int, nstats: int, data_width: float, method: str) -> BloatEstimate | None:
    """The same for a btree index: 8-byte index tuple header + aligned key width + line pointer per row, pages
    less header and btree special space at the fill factor (90 by default), plus the metapage."""
    if reltuples <= 0 or relpages <= 1 or nstats < natts:
        return None  # an expression column has no pg_stats row under the table: width unknown
    per_row = _INDEX_TUPLE_HEADER + _align(data_width) + _LINE_POINTER
    usable = (block_size - _PAGE_HEADER - _BTREE_SPECIAL) * fillfactor / 100
    expected = 1 + max(1, math.ceil(reltuples * per_row / usable))
    return BloatEstimate(schema, table, index, relpages * block_size, max(0, relpages - expected) * block_size,
                         method)


def bloat_estimates(table_rows: Sequence[Sequence[Any]], index_rows: Sequence[Sequence[Any]],
                    method: str) -> list[BloatEstimate]:
    estimates = [table_bloat(*row, method=method) for row in table_rows]  # type: ignore[misc]
    estimates += [index_bloat(*row, method=method) for row in index_rows]  # type: ignore[misc]
    return [e for e in estimates if e is not None]


def bloat_findings(estimates: list[BloatEstimate], t: Thresholds) -> list[Finding]:
    findings = []
    for e in estimates:
        if e.bloat_fraction < t.bloat_fraction or e.bloat_bytes < t.bloat_min_bytes:
            continue
        evidence = {"size_bytes": e.size_bytes, "estimated_bloat_bytes": e.bloat_bytes,
                    "estimated_bloat_pct": round(100 * e.bloat_fraction, 1), "method": e.method}
        if e.index is None:
            findings.append(Finding(
                kind="table_bloat", schema=e.schema, table=e.table, evidence=evidence,
                summary=f"{e.schema}.{e.table}: ~{100 * e.bloat_fraction:.0f} % of {_mib(e.size_bytes)} is dead "
                        "space (VACUUM makes it reusable; pg_repack or VACUUM FULL returns it, FULL with a lock)",
                sql=f"VACUUM (ANALYZE) {qualified_sql(e.schema, e.table)};"))
        else:
            findings.append(Finding(
                kind="index_bloat", schema=e.schema, table=e.table, index=e.index, evidence=evidence,
                summary=f"index {e.schema}.{e.index}: ~{100 * e.bloat_fraction:.0f} % of {_mib(e.size_bytes)} "
                        "is bloat; rebuild it without blocking writes",
                sql=f"REINDEX INDEX CONCURRENTLY {qualified_sql(e.schema, e.index)};"))
    return findings


def stale_statistics(tables: list[TableStats], t: Thresholds) -> list[Finding]:
    findings = []
    for table in tables:
        changed, live = table.n_mod_since_analyze, table.n_live_tup
        if changed < t.stale_min_rows or changed < t.stale_fraction * max(live, 1):
            continue
        fraction = changed / max(live, 1)
        findings.append(Finding(
            kind="stale_statistics", schema=table.schema, table=table.table,
            summary=f"{table.schema}.{table.table}: {changed:,} rows changed since the last analyze "
                    f"({100 * fraction:.0f} % of {live:,}); the planner works from old statistics",
            evidence={"n_mod_since_analyze": changed, "n_live_tup": live, "fraction": round(fraction, 3),
                      "threshold_fraction": t.stale_fraction,
                      "last_analyze": table.last_analyze.isoformat() if table.last_analyze else None},
            sql=f"ANALYZE {qualified_sql(table.schema, table.table)};"))
    return findings


def wraparound(health: DatabaseHealth, t: Thresholds) -> list[Finding]:
    used = health.oldest_xid_age / XID_LIMIT
    past_freeze = health.oldest_xid_age > health.autovacuum_freeze_max_age
    if used < t.wraparound_used_fraction and not past_freeze:
        return []
    why = (f"{100 * used:.1f} % of the 2^31 transaction IDs used" if used >= t.wraparound_used_fraction
           else f"older than autovacuum_freeze_max_age ({health.autovacuum_freeze_max_age:,}): anti-wraparound "
                "vacuums are not keeping up")
    return [Finding(
        kind="wraparound",
        summary=f"database {health.oldest_xid_database}: age(datfrozenxid) {health.oldest_xid_age:,}, {why}; "
                f"{XID_LIMIT - health.oldest_xid_age:,} IDs of headroom",
        evidence={"database": health.oldest_xid_database, "age_datfrozenxid": health.oldest_xid_age,
                  "xid_limit": XID_LIMIT, "headroom": XID_LIMIT - health.oldest_xid_age,
                  "used_pct": round(100 * used, 2), "autovacuum_freeze_max_age": health.autovacuum_freeze_max_age},
        sql="VACUUM (FREEZE, VERBOSE);  -- in that database; find long transactions and stale replication "
            "slots that hold the horizon back first")]


def connections(health: DatabaseHealth, t: Thresholds) -> list[Finding]:
    usable = max(health.max_connections - health.reserved_connections, 1)
    fraction = health.connections / usable
    if fraction < t.connections_fraction:
        return []
    return [Finding(
        kind="connections",
        summary=f"{health.connections} client connections of {usable} available ({100 * fraction:.0f} %): "
                "pool connections (RDS Proxy, pgbouncer) before max_connections is hit",
        evidence={"connections": health.connections, "max_connections": health.max_connections,
                  "superuser_reserved_connections": health.reserved_connections, "fraction": round(fraction, 3),
                  "threshold_fraction": t.connections_fraction})]


def cache_hit(health: DatabaseHealth, t: Thresholds) -> list[Finding]:
    blocks = health.blks_hit + health.blks_read
    if blocks < t.cache_hit_min_blocks:
        return []
    ratio = health.blks_hit / blocks
    if ratio >= t.cache_hit_min:
        return []
    return [Finding(
        kind="cache_hit_ratio",
        summary=f"buffer cache hit ratio {100 * ratio:.1f} % (< {100 * t.cache_hit_min:.0f} %): the working set "
                "does not fit shared_buffers; add memory (instance class) or cut what is read (indexes above)",
        evidence={"blks_hit": health.blks_hit, "blks_read": health.blks_read, "ratio": round(ratio, 4),
                  "threshold": t.cache_hit_min})]


def health_summary(health: DatabaseHealth, now: datetime) -> dict[str, Any]:
    blocks = health.blks_hit + health.blks_read
    return {"server_version": health.server_version,
            "connections": health.connections, "max_connections": health.max_connections,
            "cache_hit_ratio": round(health.blks_hit / blocks, 4) if blocks else None,
            "age_datfrozenxid": health.xid_age, "oldest_age_datfrozenxid": health.oldest_xid_age,
            "oldest_xid_database": health.oldest_xid_database,
            "xid_headroom": XID_LIMIT - health.oldest_xid_age,
            "autovacuum_freeze_max_age": health.autovacuum_freeze_max_age,
            "stats_reset": health.stats_reset.isoformat() if health.stats_reset else None}


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MiB"
