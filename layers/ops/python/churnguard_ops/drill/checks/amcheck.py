"""amcheck: B-tree structural verification (bt_index_check) of the copy's indexes.

Why on the copy: a storage-level corruption travels inside a snapshot; amcheck finds it before a real
recovery depends on it. CREATE EXTENSION happens inside the check's transaction, which the registry
rolls back, so the copy is left exactly as restored.
"""
from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import sql
from pydantic import Field

from churnguard_ops.core.postgres import USER_SCHEMA_PREDICATE, qualified

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register

SKIPPED_UNAVAILABLE = "skipped: extension unavailable"

_BTREE_INDEXES = f"""
SELECT n.nspname, ic.relname, tc.relname, ic.oid
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE ic.relkind = 'i' AND i.indisvalid AND i.indisready AND ic.relpersistence <> 't' AND {USER_SCHEMA_PREDICATE}
ORDER BY n.nspname, tc.relname, ic.relname
"""


class AmcheckParams(CheckParams):
    max_indexes: int = Field(default=50, ge=1)
    heapallindexed: bool = False  # also verify every heap tuple has an index entry (slower)
    # The extension that provides bt_index_check. Only worth changing to exercise the
    # "unavailable" path (tests) or for a build that ships amcheck under another name.
    extension: str = "amcheck"


@register
class Amcheck(IntegrityCheck[AmcheckParams]):
    """Verify B-tree indexes with amcheck's bt_index_check; skipped where amcheck is not available.

    Example::

        {"check": "amcheck", "params": {"max_indexes": 100, "heapallindexed": true}}
    """

    name = "amcheck"
    Params = AmcheckParams

    def run(self, conn: Any, params: AmcheckParams, context: CheckContext) -> CheckResult:
        with conn.cursor() as cur:
            ext_schema = _ensure_extension(cur, params.extension)
            if ext_schema is None:
                return self.result("skipped", SKIPPED_UNAVAILABLE)
            cur.execute(_BTREE_INDEXES)
            indexes = cur.fetchall()
            if not indexes:
                return self.not_applicable("no btree indexes to verify")
            findings = []
            check_fn = sql.Identifier(ext_schema, "bt_index_check")
            for schema, index, table, oid in indexes[: params.max_indexes]:
                cur.execute("SAVEPOINT amcheck_index")  # a corrupt index raises; keep checking the rest
                try:
                    cur.execute(sql.SQL("SELECT {}(%s::regclass, %s)").format(check_fn),
                                (oid, params.heapallindexed))
                    cur.execute("RELEASE SAVEPOINT amcheck_index")
                except psycopg2.errors.QueryCanceled:
                    raise  # a timeout is the check's error, not index corruption
                except psycopg2.Error as exc:
                    cur.execute("ROLLBACK TO SAVEPOINT amcheck_index")
                    findings.append({"index": qualified(schema, index), "table": qualified(schema, table),
                                     "error": str(exc).strip()})
        checked = min(len(indexes), params.max_indexes)
        scope = f"{checked} of {len(indexes)}" if checked < len(indexes) else f"{checked}"
        if findings:
            detail = "; ".join(f"{f['index']} on {f['table']}: {f['error']}" for f in findings)
            return self.result("failed", f"{len(findings)} corrupt index(es) among {scope} checked: {detail}",
                               findings)
        return self.result("passed", f"{scope} btree indexes verified with bt_index_check")


def _ensure_extension(cur: Any, extension: str) -> str | None:
    """Schema of the installed extension, creating it if available; None if it cannot be had."""
    cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = %s", (extension,))
    if cur.fetchone() is None:
        return None
    cur.execute("SAVEPOINT amcheck_ext")
    try:
        cur.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
    except psycopg2.errors.InsufficientPrivilege:
        # Available but we may not install it (no rds_superuser): as good as unavailable.
        cur.execute("ROLLBACK TO SAVEPOINT amcheck_ext")
        return None
    cur.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = %s", (extension,))
    row = cur.fetchone()
    return row[0] if row else None
