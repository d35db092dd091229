"""foreign_key_orphans: every FK in the catalog, checked for child rows without a parent.

Why the catalog: the copy may have tables this code has never heard of; pg_constraint is the truth.
Why check at all: constraints are not re-validated on restore, and a copy made with
session_replication_role=replica, a bad pg_restore --disable-triggers or storage corruption can hold
rows that violate a constraint that still exists. Constraints added NOT VALID (convalidated = false)
are checked like the others: PostgreSQL never checked the rows that predate them, so they are where
orphans live in real schemas; findings say which constraints are not validated.
"""
from __future__ import annotations

from typing import Any

from psycopg2 import sql
from pydantic import Field

from churnguard_ops.core.postgres import USER_SCHEMA_PREDICATE, qualified

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register

# conparentid = 0: a FK on a partitioned table is cloned onto every partition (and onto every partition
# of a partitioned parent); checking the top-level constraint covers all of them once. No filter on
# convalidated: NOT VALID constraints are checked too.
_FOREIGN_KEYS = f"""
SELECT c.conname, c.convalidated, cn.nspname, cc.relname, pn.nspname, pc.relname,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[]
FROM pg_constraint c
JOIN pg_class cc ON cc.oid = c.conrelid
JOIN pg_namespace cn ON cn.oid = cc.relnamespace
JOIN pg_class pc ON pc.oid = c.confrelid
JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0
  AND cn.oid IN (SELECT oid FROM pg_namespace WHERE {USER_SCHEMA_PREDICATE})
  AND (%(schemas)s::text[] IS NULL OR cn.nspname = ANY(%(schemas)s::text[]))
ORDER BY cn.nspname, cc.relname, c.conname
"""


class ForeignKeyOrphansParams(CheckParams):
    schemas: list[str] | None = None  # None: every non-system schema
    max_examples: int = Field(default=5, ge=0, le=100)


def _orphan_filter(parent: sql.Identifier, child_cols: list[str], parent_cols: list[str]) -> sql.Composed:
    """MATCH SIMPLE: a row is checked only if all its FK columns are non-null."""
    not_null = sql.SQL(" AND ").join(
        sql.SQL("ch.{} IS NOT NULL").format(sql.Identifier(c)) for c in child_cols)
    join = sql.SQL(" AND ").join(
        sql.SQL("pa.{} = ch.{}").format(sql.Identifier(p), sql.Identifier(c))
        for c, p in zip(child_cols, parent_cols, strict=True))
    return sql.SQL("{} AND NOT EXISTS (SELECT 1 FROM {} pa WHERE {})").format(not_null, parent, join)


@register
class ForeignKeyOrphans(IntegrityCheck[ForeignKeyOrphansParams]):
    """Fail when any foreign key (single- or multi-column) has child rows with no parent row.

    Example::

        {"check": "foreign_key_orphans", "params": {"schemas": ["public", "billing"], "max_examples": 3}}
    """

    name = "foreign_key_orphans"
    Params = ForeignKeyOrphansParams

    def run(self, conn: Any, params: ForeignKeyOrphansParams, context: CheckContext) -> CheckResult:
        with conn.cursor() as cur:
            cur.execute(_FOREIGN_KEYS, {"schemas": params.schemas})
            fks = cur.fetchall()
            findings = []
            if not fks:
                scope = f" in schema(s) {', '.join(params.schemas)}" if params.schemas is not None else ""
                return self.not_applicable(f"no foreign keys to check{scope}")
            for conname, validated, cschema, ctable, pschema, ptable, ccols, pcols in fks:
                child = sql.Identifier(cschema, ctable)
                where = _orphan_filter(sql.Identifier(pschema, ptable), ccols, pcols)
                cur.execute(sql.SQL("SELECT count(*) FROM {} ch WHERE {}").format(child, where))
                orphans = cur.fetchone()[0]
                if not orphans:
                    continue
                examples: list[dict[str, Any]] = []
                if params.max_examples:
                    cols = sql.SQL(", ").join(sql.SQL("ch.{}").format(sql.Identifier(c)) for c in ccols)
                    cur.execute(sql.SQL("SELECT {} FROM {} ch WHERE {} LIMIT {}").format(
                        cols, child, where, sql.Literal(params.max_examples)))
                    examples = [{c: _jsonable(v) for c, v in zip(ccols, row, strict=True)} for row in cur.fetchall()]
                findings.append({
                    "table": qualified(cschema, ctable), "constraint": conname, "validated": validated,
                    "columns": ccols, "references": qualified(pschema, ptable),
                    "orphans": orphans, "examples": examples,
                })
        not_valid = sum(1 for fk in fks if not fk[1])
        scope = f"{len(fks)} foreign keys checked" + (f" ({not_valid} NOT VALID)" if not_valid else "")
        if findings:
            detail = "; ".join(f"{f['table']}.{f['constraint']}{'' if f['validated'] else ' (NOT VALID)'}: "
                               f"{f['orphans']} orphan row(s) referencing {f['references']}" for f in findings)
            return self.result("failed", f"{detail} ({scope})", findings)
        return self.result("passed", f"{scope}, no orphan rows")


def _jsonable(value: Any) -> Any:
    # Findings go into JSON reports; FK values are mostly ints/strings, anything else becomes text.
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)
