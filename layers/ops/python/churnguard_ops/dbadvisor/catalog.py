"""Read one database's statistics and catalog (PostgreSQL 13+, as RDS runs it) for the advisor.

Everything is read in one read-only transaction with a statement timeout (``core.postgres.transaction``). The
monitoring role needs ``pg_monitor`` (pg_stat_statements of every user, pg_stat_activity) and SELECT on the
tables whose ``pg_stats`` rows it should see (selectivity and bloat estimates; without it they are unknown).
Every statement starts with :data:`MARKER`, so the advisor's own queries are left out of the slow ones.
"""
from __future__ import annotations

from typing import Any

from churnguard_ops.core.postgres import USER_SCHEMA_PREDICATE, transaction
from churnguard_ops.dbadvisor.model import (
    CatalogSnapshot,
    ColumnStats,
    DatabaseHealth,
    IndexInfo,
    StatementsAvailability,
    StatementStats,
    TableStats,
)

MARKER = "/* churnguard-ops dbadvisor */"
BLOAT_METHOD = ("estimate from pg_class and pg_stats (ioguix-style: rows x estimated row width against the "
                "pages in use; pgstattuple not used)")
ENABLE_PRELOAD = ("add pg_stat_statements to shared_preload_libraries (RDS: the DB parameter group) and restart, "
                  "then CREATE EXTENSION pg_stat_statements;")
ENABLE_EXTENSION = "CREATE EXTENSION pg_stat_statements;"

_HEALTH = f"""{MARKER}
SELECT current_database(), d.stats_reset, d.blks_hit, d.blks_read, age(me.datfrozenxid)::bigint,
       oldest.age, oldest.datname, current_setting('autovacuum_freeze_max_age')::bigint,
       current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int,
       current_setting('server_version')
FROM pg_stat_database d
JOIN pg_database me ON me.oid = d.datid
CROSS JOIN LATERAL (SELECT age(datfrozenxid)::bigint AS age, datname FROM pg_database
                    ORDER BY age(datfrozenxid) DESC LIMIT 1) oldest
WHERE d.datname = current_database()
"""

_TABLES = f"""{MARKER}
SELECT t.schemaname, t.relname, coalesce(t.seq_scan, 0), coalesce(t.seq_tup_read, 0), coalesce(t.idx_scan, 0),
       t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze, greatest(t.last_analyze, t.last_autoanalyze),
       pg_relation_size(t.relid),
       ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = t.relid AND a.attnum > 0
             AND NOT a.attisdropped ORDER BY a.attnum)
FROM pg_stat_user_tables t
ORDER BY t.schemaname, t.relname
"""

# key_parts: per key column its name (or expression), operator class, collation and ordering, so two indexes
# compare equal only when they index the same thing the same way.
_INDEXES = f"""{MARKER}
SELECT n.nspname, t.relname, ic.relname, am.amname,
       ARRAY(SELECT CASE WHEN i.indkey[k] = 0 THEN NULL ELSE
                (SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[k])
             END FROM generate_series(0, i.indnkeyatts - 1) k ORDER BY k),
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k + 1, true) || ' ' || coalesce(oc.opcname, '') || ' '
                    || coalesce(i.indcollation[k]::text, '0') || ' ' || coalesce(i.indoption[k]::text, '0')
             FROM generate_series(0, i.indnkeyatts - 1) k LEFT JOIN pg_opclass oc ON oc.oid = i.indclass[k]
             ORDER BY k),
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k + 1, true)
             FROM generate_series(i.indnkeyatts, i.indnatts - 1) k ORDER BY k),
       pg_get_expr(i.indpred, i.indrelid, true), i.indisprimary, i.indisunique, i.indisexclusion,
       (SELECT c.conname FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')
        ORDER BY c.conname LIMIT 1),
       (SELECT c.conname FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype = 'f'
        ORDER BY c.conname LIMIT 1),
       i.indisvalid AND i.indisready, coalesce(s.idx_scan, 0), pg_relation_size(i.indexrelid),
       pg_get_indexdef(i.indexrelid), ic.relkind = 'I',
       (SELECT inh.inhparent::regclass::text FROM pg_inherits inh WHERE inh.inhrelid = i.indexrelid LIMIT 1)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE t.relkind IN ('r', 'm', 'p') AND {USER_SCHEMA_PREDICATE}
ORDER BY n.nspname, t.relname, ic.relname
"""

_COLUMN_STATS = f"""{MARKER}
SELECT schemaname, tablename, attname, coalesce(n_distinct, 0), coalesce(most_common_freqs, '{{}}'::real[]),
       coalesce(null_frac, 0)
FROM pg_stats
WHERE NOT inherited AND schemaname NOT IN ('pg_catalog', 'information_schema')
  AND schemaname NOT LIKE 'pg\\_toast%%' AND schemaname NOT LIKE 'pg\\_temp\\_%%'
"""

_EXTENSION = f"""{MARKER}
SELECT n.nspname,
       'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'
"""

_PRELOADED = f"""{MARKER}
SELECT 'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
"""

# {schema} is the extension's schema, quoted by the caller. Top by mean above the threshold, and top by total.
_STATEMENTS = """{marker}
WITH mine AS (
    SELECT queryid, query, calls, mean_exec_time, total_exec_time, rows, shared_blks_hit, shared_blks_read
    FROM {schema}.pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query NOT LIKE %(marker_like)s AND calls > 0
      AND query !~* %(utility)s AND query !~* %(set_config)s
), slow AS (
    SELECT * FROM mine WHERE mean_exec_time >= %(slow_ms)s ORDER BY mean_exec_time DESC LIMIT %(top)s
), busy AS (
    SELECT * FROM mine ORDER BY total_exec_time DESC LIMIT %(top)s
)
SELECT queryid::text, query, sum(calls)::bigint, avg(mean_exec_time), sum(total_exec_time), sum(rows)::bigint,
       sum(shared_blks_hit)::bigint, sum(shared_blks_read)::bigint
FROM (SELECT * FROM slow UNION SELECT * FROM busy) chosen
GROUP BY queryid, query
ORDER BY sum(total_exec_time) DESC
"""

# Transaction control and settings (every session's BEGIN, SET ..., core.postgres.transaction's set_config) say
# nothing about the workload.
_UTILITY = r"^\s*(BEGIN|COMMIT|END|ROLLBACK|ABORT|START|SAVEPOINT|RELEASE|SET|RESET|SHOW|DISCARD|DEALLOCATE)\M"
_SET_CONFIG = r"^\s*SELECT set_config\(\$1, \$2, \$3\)\s*$"

# Inputs of the bloat estimate, computed in Python (churnguard_ops.dbadvisor.health): per table and per btree
# index, the pages in use, the rows, the block size, the fill factor and the average row width from pg_stats.
_TABLE_BLOAT_INPUTS = f"""{MARKER}
SELECT n.nspname, c.relname, c.relpages::bigint, c.reltuples::float8, current_setting('block_size')::int,
       coalesce((SELECT option_value::int FROM pg_options_to_table(c.reloptions)
                 WHERE option_name = 'fillfactor'), 100),
       (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::int,
       count(s.attname)::int, coalesce(sum((1 - s.null_frac) * s.avg_width), 0)::float8,
       coalesce(max(s.null_frac), 0)::float8
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND NOT s.inherited
WHERE c.relkind = 'r' AND c.relpages > 0 AND {USER_SCHEMA_PREDICATE}
GROUP BY n.nspname, c.relname, c.oid, c.relpages, c.reltuples, c.reloptions
"""

_INDEX_BLOAT_INPUTS = f"""{MARKER}
SELECT n.nspname, t.relname, ic.relname, ic.relpages::bigint, ic.reltuples::float8,
       current_setting('block_size')::int,
       coalesce((SELECT option_value::int FROM pg_options_to_table(ic.reloptions)
                 WHERE option_name = 'fillfactor'), 90),
       i.indnatts::int, count(s.attname)::int, coalesce(sum((1 - s.null_frac) * s.avg_width), 0)::float8
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) AND a.attnum > 0
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = t.relname AND s.attname = a.attname
     AND NOT s.inherited
WHERE ic.relpages > 1 AND {USER_SCHEMA_PREDICATE}
GROUP BY n.nspname, t.relname, ic.relname, ic.relpages, ic.reltuples, ic.reloptions, i.indnatts
"""


class PostgresCatalog:
    """The advisor's reads (and its one optional write, ANALYZE) on one open connection."""

    def __init__(self, conn: Any, statement_timeout_ms: int = 30_000) -> None:
        self.conn = conn
        self.statement_timeout_ms = statement_timeout_ms

    def snapshot(self, *, top: int, slow_ms: float) -> CatalogSnapshot:
        from churnguard_ops.dbadvisor.health import bloat_estimates

        with transaction(self.conn, self.statement_timeout_ms, read_only=True) as cur:
            cur.execute(_HEALTH)
            health = DatabaseHealth(*cur.fetchone())
            cur.execute(_TABLES)
            tables = [_table(row) for row in cur.fetchall()]
            cur.execute(_INDEXES)
            indexes = [_index(row) for row in cur.fetchall()]
            cur.execute(_COLUMN_STATS)
            column_stats = [ColumnStats(schema, table, column, float(n_distinct), tuple(float(f) for f in mcf),
                                        float(null_frac))
                            for schema, table, column, n_distinct, mcf, null_frac in cur.fetchall()]
            availability, statements = self._statements(cur, top, slow_ms)
            cur.execute(_TABLE_BLOAT_INPUTS)
            table_inputs = cur.fetchall()
            cur.execute(_INDEX_BLOAT_INPUTS)
            index_inputs = cur.fetchall()
        return CatalogSnapshot(health=health, tables=tables, indexes=indexes, column_stats=column_stats,
                               statements=statements, statements_availability=availability,
                               bloat=bloat_estimates(table_inputs, index_inputs, BLOAT_METHOD),
                               bloat_method=BLOAT_METHOD)

    def _statements(self, cur: Any, top: int, slow_ms: float) -> tuple[StatementsAvailability, list[StatementStats]]:
        from psycopg2 import sql

        cur.execute(_EXTENSION)
        row = cur.fetchone()
        if row is None:
            cur.execute(_PRELOADED)
            preloaded = cur.fetchone()[0]
            if preloaded:
                return StatementsAvailability(False, "the pg_stat_statements extension is not installed in this "
                                              "database (the library is preloaded)", ENABLE_EXTENSION), []
            return StatementsAvailability(False, "pg_stat_statements is neither preloaded "
                                          "(shared_preload_libraries) nor installed in this database",
                                          ENABLE_PRELOAD), []
        schema, preloaded = row
        if not preloaded:
            return StatementsAvailability(False, "the pg_stat_statements extension is installed but the library "
                                          "is not in shared_preload_libraries (its view only errors)",
                                          ENABLE_PRELOAD), []
        query = sql.SQL(_STATEMENTS).format(marker=sql.SQL(MARKER), schema=sql.Identifier(schema))
        cur.execute(query, {"marker_like": MARKER + "%", "slow_ms": slow_ms, "top": top, "utility": _UTILITY,
                            "set_config": _SET_CONFIG})
        return StatementsAvailability(True), [
            StatementStats(queryid, text, int(calls), float(mean), float(total), int(rows), int(hit), int(read))
            for queryid, text, calls, mean, total, rows, hit, read in cur.fetchall()]

    def analyze(self, tables: list[tuple[str, str]]) -> dict[str, str]:
        """ANALYZE exactly these tables (autocommit: statistics must persist); ``schema.table`` -> outcome."""
        import psycopg2
        from psycopg2 import sql

        outcomes: dict[str, str] = {}
        was_autocommit = self.conn.autocommit
        self.conn.rollback()
        self.conn.autocommit = True
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT set_config('statement_timeout', %s, false)", (str(self.statement_timeout_ms),))
                for schema, table in tables:
                    try:
                        cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, table)))
                        outcomes[f"{schema}.{table}"] = "analyzed"
                    except psycopg2.Error as exc:  # e.g. not the owner: say so, analyze the rest
                        outcomes[f"{schema}.{table}"] = f"not analyzed: {' '.join(str(exc).split())[:200]}"
        finally:
            self.conn.autocommit = was_autocommit
        return outcomes


def _table(row: tuple[Any, ...]) -> TableStats:
    schema, table, seq_scan, seq_read, idx_scan, live, dead, modified, analyzed, size, columns = row
    return TableStats(schema=schema, table=table, seq_scan=int(seq_scan), seq_tup_read=int(seq_read),
                      idx_scan=int(idx_scan), n_live_tup=int(live), n_dead_tup=int(dead),
                      n_mod_since_analyze=int(modified), last_analyze=analyzed, size_bytes=int(size),
                      columns=tuple(columns))


def _index(row: tuple[Any, ...]) -> IndexInfo:
    (schema, table, index, method, columns, key_parts, include, predicate, primary, unique, exclusion,
     constraint, foreign_key, valid, scans, size, definition, partitioned, attached_to) = row
    signature = " | ".join(key_parts) + (f" INCLUDE {', '.join(include)}" if include else "")
    backs = constraint or (f"{foreign_key} (a foreign key's target)" if foreign_key else None)
    return IndexInfo(schema=schema, table=table, index=index, method=method, columns=tuple(columns),
                     key_parts=tuple(key_parts), key_signature=signature, predicate=predicate, is_primary=primary,
                     is_unique=unique, is_exclusion=exclusion, backs_constraint=backs, is_valid=valid,
                     idx_scan=int(scans), size_bytes=int(size), definition=definition,
                     partitioned=bool(partitioned), attached_to=attached_to)
