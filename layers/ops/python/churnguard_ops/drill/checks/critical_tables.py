"""critical_tables_non_empty: the tables the product cannot live without exist and hold rows."""
from __future__ import annotations

from typing import Any

from psycopg2 import sql
from pydantic import ConfigDict, Field

from churnguard_ops.core.postgres import qualified

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register


class CriticalTablesParams(CheckParams):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # None: every table the backup-time baseline saw with rows (for a schema nobody configured).
    tables: list[str] | None = Field(default=None, min_length=1)
    # "schema" would shadow a BaseModel attribute, so the field is schema_ with the JSON key "schema".
    schema_: str = Field(default="public", alias="schema")


@register
class CriticalTablesNonEmpty(IntegrityCheck[CriticalTablesParams]):
    """Fail when a critical table is missing or empty.

    Example::

        {"check": "critical_tables_non_empty",
         "params": {"tables": ["customers", "users"], "schema": "public"}}

    Without ``tables``, the critical tables are those the baseline recorded as non-empty; with no baseline
    (or one that saw no rows) there is nothing to check and the result is not_applicable.
    """

    name = "critical_tables_non_empty"
    Params = CriticalTablesParams

    def run(self, conn: Any, params: CriticalTablesParams, context: CheckContext) -> CheckResult:
        if params.tables is not None:
            tables = [(params.schema_, t) for t in params.tables]
        elif context.baseline is None:
            return self.not_applicable("no critical tables configured and no baseline to derive them from")
        else:
            tables = [(key.partition(".")[0], key.partition(".")[2])
                      for key, rows in sorted(context.baseline.items()) if rows > 0]
            if not tables:
                return self.not_applicable(f"no critical tables configured, and the baseline saw no table with rows "
                                           f"({len(context.baseline)} table(s), all empty)")
        findings = []
        with conn.cursor() as cur:
            for schema, table in tables:
                key = qualified(schema, table)
                cur.execute(
                    "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
                    (schema, table),
                )
                if cur.fetchone() is None:
                    findings.append({"table": key, "problem": "missing"})
                    continue
                # EXISTS stops at the first row: O(1) even on a billion-row table.
                cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                    sql.Identifier(schema), sql.Identifier(table)))
                if not cur.fetchone()[0]:
                    findings.append({"table": key, "problem": "empty"})
        if findings:
            parts = [f"{f['table']} is {f['problem']}" for f in findings]
            return self.result("failed", "; ".join(parts), findings)
        return self.result("passed", f"{len(tables)} critical tables exist and are non-empty")
