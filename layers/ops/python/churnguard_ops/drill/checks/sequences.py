"""sequences_not_behind: every sequence that feeds a column is ahead of the data in that column.

Why: a logical restore that loads rows but not sequence state (or a replica promoted mid-stream)
leaves a sequence behind its column; the first INSERT after fail-over then dies on a duplicate key.

Which sequences: those a column OWNS (serial/bigserial, ALTER SEQUENCE .. OWNED BY), identity columns,
and those linked to a column only through ``DEFAULT nextval('...')`` (older and ORM-made schemas; one
sequence may feed several tables). A serial column is linked both ways and is checked once.
"""
from __future__ import annotations

from typing import Any

from psycopg2 import sql

from churnguard_ops.core.postgres import USER_SCHEMA_PREDICATE, qualified

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register

# links: (sequence, table, column, how). 'owned': OWNED BY (pg_depend deptype 'a'); 'identity': identity
# column (deptype 'i'); 'default': the column default (a pg_attrdef row) depends on the sequence (deptype
# 'n': nextval('seq') stores the sequence as a regclass constant, which records that dependency).
# A partition inherits its parent's default: it is checked through the parent (max over all partitions).
_SEQUENCES = f"""
WITH links AS (
    SELECT d.objid AS seqid, d.refobjid AS relid, d.refobjsubid AS attnum,
           CASE d.deptype WHEN 'i' THEN 'identity' ELSE 'owned' END AS link
    FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
      AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
    UNION
    SELECT d.refobjid, ad.adrelid, ad.adnum, 'default'
    FROM pg_depend d
    JOIN pg_attrdef ad ON ad.oid = d.objid
    WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'n'
)
SELECT sn.nspname, s.relname, tn.nspname, t.relname, a.attname, seq.seqincrement,
       array_agg(DISTINCT l.link ORDER BY l.link)::text[],
       a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype)
FROM links l
JOIN pg_class s ON s.oid = l.seqid AND s.relkind = 'S'
JOIN pg_sequence seq ON seq.seqrelid = s.oid
JOIN pg_namespace sn ON sn.oid = s.relnamespace
JOIN pg_class t ON t.oid = l.relid AND t.relkind IN ('r', 'p')
JOIN pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = l.attnum AND NOT a.attisdropped
WHERE tn.oid IN (SELECT oid FROM pg_namespace WHERE {USER_SCHEMA_PREDICATE})
  AND NOT (t.relispartition AND EXISTS (
      SELECT 1 FROM pg_inherits i JOIN links pl ON pl.relid = i.inhparent AND pl.seqid = l.seqid
      WHERE i.inhrelid = t.oid))
GROUP BY sn.nspname, s.relname, tn.nspname, t.relname, a.attname, seq.seqincrement, a.atttypid
ORDER BY tn.nspname, t.relname, a.attname, sn.nspname, s.relname
"""


class SequencesParams(CheckParams):
    pass


@register
class SequencesNotBehind(IntegrityCheck[SequencesParams]):
    """Fail when a sequence's next value would collide with existing rows (last_value < max(column)).

    Covers owned (serial), identity and DEFAULT nextval(...) sequences; descending sequences are
    checked against min(column). Example::

        {"check": "sequences_not_behind"}
    """

    name = "sequences_not_behind"
    Params = SequencesParams

    def run(self, conn: Any, params: SequencesParams, context: CheckContext) -> CheckResult:
        findings: list[dict[str, Any]] = []
        with conn.cursor() as cur:
            cur.execute(_SEQUENCES)
            linked = cur.fetchall()
            if not linked:
                return self.not_applicable("no sequences feed a column (none owned, identity or in a default)")
            for seq_schema, seq_name, schema, table, column, increment, links, comparable in linked:
                if not comparable:  # e.g. DEFAULT 'INV-' || nextval('s') on a text column
                    findings.append({"table": qualified(schema, table), "column": column,
                                     "sequence": qualified(seq_schema, seq_name), "linked_by": links,
                                     "problem": "not_comparable", "info": True})
                    continue
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
                        "max" if ascending else "min": int(extreme), "linked_by": links,
                    })
        failures = [f for f in findings if not f.get("info")]
        compared = len(linked) - (len(findings) - len(failures))
        by_default = sum(1 for row in linked if row[6] == ["default"])
        scope = f"{compared} sequences" + (f" ({by_default} linked only by a column default)" if by_default else "")
        if compared < len(linked):
            scope += f"; {len(linked) - compared} on non-numeric columns not compared"
        if failures:
            detail = "; ".join(
                f"{f['sequence']} (for {f['table']}.{f['column']}) last_value {f['last_value']} "
                f"is behind {'max' if 'max' in f else 'min'} {f.get('max', f.get('min'))}" for f in failures)
            return self.result("failed", f"{len(failures)} of {scope} behind their columns: {detail}", findings)
        if not compared:
            return self.not_applicable(f"no sequence feeds a numeric column ({scope})", findings)
        return self.result("passed", f"{scope} ahead of their columns", findings)
