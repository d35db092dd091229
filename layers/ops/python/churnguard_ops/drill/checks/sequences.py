"""sequences_not_behind: every column-owned sequence is ahead of the data in its column.

Why: a logical restore that loads rows but not sequence state (or a replica promoted mid-stream)
leaves a sequence behind its column; the first INSERT after fail-over then dies on a duplicate key.
"""
from __future__ import annotations

from typing import Any

from psycopg2 import sql

from churnguard_ops.core.postgres import USER_SCHEMA_PREDICATE, qualified

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register

# Sequences owned by a column: serial/bigserial (deptype 'a', OWNED BY) and identity columns (deptype 'i').
_OWNED_SEQUENCES = f"""
SELECT sn.nspname, s.relname, tn.nspname, t.relname, a.attname, seq.seqincrement
FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_sequence seq ON seq.seqrelid = s.oid
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p')
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
  AND tn.oid IN (SELECT oid FROM pg_namespace WHERE {USER_SCHEMA_PREDICATE})
ORDER BY tn.nspname, t.relname, a.attname
"""


class SequencesParams(CheckParams):
    pass


@register
class SequencesNotBehind(IntegrityCheck[SequencesParams]):
    """Fail when a sequence's next value would collide with existing rows (last_value < max(column)).

    Descending sequences are checked against min(column). Example::

        {"check": "sequences_not_behind"}
    """

    name = "sequences_not_behind"
    Params = SequencesParams

    def run(self, conn: Any, params: SequencesParams, context: CheckContext) -> CheckResult:
        findings = []
        with conn.cursor() as cur:
            cur.execute(_OWNED_SEQUENCES)
            owned = cur.fetchall()
            for seq_schema, seq_name, schema, table, column, increment in owned:
                cur.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
                    sql.Identifier(seq_schema, seq_name)))
                last_value, is_called = cur.fetchone()
                # Not yet called: nextval() returns last_value itself, so the effective last is one step back.
                effective = last_value if is_called else last_value - increment
                ascending = increment > 0
                agg = sql.SQL("max") if ascending else sql.SQL("min")
                cur.execute(sql.SQL("SELECT {}({}) FROM {}").format(
                    agg, sql.Identifier(column), sql.Identifier(schema, table)))
                extreme = cur.fetchone()[0]
                if extreme is None:
                    continue  # empty table: any sequence position is safe
                behind = effective < extreme if ascending else effective > extreme
                if behind:
                    findings.append({
                        "table": qualified(schema, table), "column": column,
                        "sequence": qualified(seq_schema, seq_name),
                        "last_value": last_value, "is_called": is_called,
                        "max" if ascending else "min": int(extreme),
                    })
        if findings:
            detail = "; ".join(
                f"{f['sequence']} (for {f['table']}.{f['column']}) last_value {f['last_value']} "
                f"is behind {'max' if 'max' in f else 'min'} {f.get('max', f.get('min'))}" for f in findings)
            return self.result("failed", detail, findings)
        return self.result("passed", f"{len(owned)} owned sequences are ahead of their columns")
