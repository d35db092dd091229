"""Row counts per user table: backups capture them at snapshot time, drills compare the restored copy.

Why estimates above a limit: an exact count(*) of a multi-billion-row table would blow the Lambda's
time budget; pg_class.reltuples (kept by a snapshot restore) is good enough to catch a lost table.
"""
from __future__ import annotations

from typing import Any

from psycopg2 import sql

from churnguard_ops.core.postgres import USER_SCHEMA_PREDICATE, qualified, transaction

__all__ = ["capture_baseline", "count_rows", "list_user_tables"]

# relkind 'r' only: ordinary tables and leaf partitions hold every row exactly once; a partitioned
# parent ('p') would count its partitions' rows a second time.
_USER_TABLES = f"""
SELECT n.nspname, c.relname, c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND {USER_SCHEMA_PREDICATE}
ORDER BY n.nspname, c.relname
"""


def list_user_tables(cur: Any) -> list[tuple[str, str, float]]:
    """(schema, table, reltuples) for every user table; reltuples is -1 when never analyzed."""
    cur.execute(_USER_TABLES)
    return [(schema, table, float(est)) for schema, table, est in cur.fetchall()]


def count_rows(cur: Any, schema: str, table: str, estimate: float, exact_row_limit: int) -> int:
    """Exact count below the limit (or when no estimate exists), else the planner's estimate."""
    if estimate >= exact_row_limit:  # -1 (never analyzed) falls through to an exact count
        return int(estimate)
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
    return int(cur.fetchone()[0])


def capture_baseline(conn: Any, statement_timeout_ms: int = 60000,
                     exact_row_limit: int = 5_000_000) -> dict[str, int]:
    """{"schema.table": rows} for every user table, read-only, in one rolled-back transaction."""
    with transaction(conn, statement_timeout_ms, read_only=True) as cur:
        return {qualified(schema, table): count_rows(cur, schema, table, est, exact_row_limit)
                for schema, table, est in list_user_tables(cur)}
