"""From one database's catalog snapshot to the advice: pure, so every rule is tested on hand-made rows."""
from __future__ import annotations

from datetime import datetime

from churnguard_ops.dbadvisor import health as checks
from churnguard_ops.dbadvisor.indexes import (
    duplicate_indexes,
    missing_indexes,
    redundant_indexes,
    unused_indexes,
)
from churnguard_ops.dbadvisor.model import KIND_ORDER, Advice, CatalogSnapshot, Finding, IndexProposal, Note
from churnguard_ops.dbadvisor.statements import Comparison, ParsedStatement, parse_statement
from churnguard_ops.dbadvisor.thresholds import Thresholds


def advise(snapshot: CatalogSnapshot, t: Thresholds, *, db_instance_id: str, database: str,
           now: datetime) -> Advice:
    tables = {(s.schema, s.table): s for s in snapshot.tables}
    column_stats = {(c.schema, c.table, c.column): c for c in snapshot.column_stats}
    columns = {key: frozenset(s.columns) for key, s in tables.items()}

    def resolve(schema: str | None, name: str) -> tuple[str, str] | None:
        if schema is not None:
            return (schema, name) if (schema, name) in tables else None
        if ("public", name) in tables:  # the default search_path: "$user", public
            return "public", name
        owners = [key for key in tables if key[1] == name]
        return owners[0] if len(owners) == 1 else None

    notes: list[Note] = []
    availability = snapshot.statements_availability
    if not availability.available:
        notes.append(Note(topic="pg_stat_statements", status="not_available", reason=availability.reason,
                          enable=availability.enable))
    parsed: list[tuple] = []
    skipped_statements = []
    for statement in snapshot.statements:
        result = parse_statement(statement.query, resolve, lambda s, n: columns.get((s, n), frozenset()))
        if isinstance(result, ParsedStatement):
            parsed.append((statement, result.comparisons))
        else:
            skipped_statements.append({"queryid": statement.queryid, "query": statement.query[:500],
                                       "reason": result.reason})
    missing = missing_indexes(parsed, tables, snapshot.indexes, column_stats, t)
    findings: list[Finding] = [*missing.findings, *_slow_queries(snapshot, t, missing.proposals)]
    duplicates = duplicate_indexes(snapshot.indexes)
    dropped = {(f.schema_ or "", f.index or "") for f in duplicates}
    redundant = redundant_indexes(snapshot.indexes, dropped)
    dropped |= {(f.schema_ or "", f.index or "") for f in redundant}
    unused, unused_note = unused_indexes(snapshot.indexes, dropped, snapshot.health.stats_reset, now, t)
    if unused_note:
        notes.append(Note(topic="unused_indexes", status="skipped", reason=unused_note))
    findings += duplicates + redundant + unused
    findings += checks.wraparound(snapshot.health, t) + checks.connections(snapshot.health, t)
    findings += checks.stale_statistics(snapshot.tables, t) + checks.bloat_findings(snapshot.bloat, t)
    findings += checks.cache_hit(snapshot.health, t)
    findings.sort(key=lambda f: KIND_ORDER.index(f.kind))
    reset = snapshot.health.stats_reset
    return Advice(
        db_instance_id=db_instance_id, database=database, generated_at=now,
        server_version=snapshot.health.server_version, stats_reset=reset,
        stats_age_days=round((now - reset).total_seconds() / 86400, 2) if reset else None,
        pg_stat_statements={"available": availability.available, "reason": availability.reason or None,
                            "enable": availability.enable or None, "statements_read": len(snapshot.statements),
                            "statements_parsed": len(parsed)},
        health={**checks.health_summary(snapshot.health, now), "bloat_method": snapshot.bloat_method,
                "skipped_for_missing_indexes": missing.skipped},
        findings=findings, notes=notes, skipped_statements=skipped_statements, proposals=missing.proposals)


def stale_tables(advice: Advice) -> list[tuple[str, str]]:
    return [(f.schema_ or "", f.table or "") for f in advice.findings if f.kind == "stale_statistics"]


def _slow_queries(snapshot: CatalogSnapshot, t: Thresholds, proposals: list[IndexProposal]) -> list[Finding]:
    by_total = sorted(snapshot.statements, key=lambda s: -s.total_ms)
    top = {s.queryid for s in by_total[:t.top_statements]}
    helps = {st.queryid: p for p in proposals for st in p.statements}
    findings = []
    for s in by_total:
        reasons = []
        if s.mean_ms >= t.slow_query_ms:
            reasons.append(f"mean {s.mean_ms:,.1f} ms >= slow_query_ms {t.slow_query_ms:,.0f}")
        if s.queryid in top:
            reasons.append(f"top {t.top_statements} by total time")
        if not reasons:
            continue
        proposal = helps.get(s.queryid)
        findings.append(Finding(
            kind="slow_query", columns=proposal.columns if proposal else None,
            schema=proposal.schema_ if proposal else None, table=proposal.table if proposal else None,
            summary=f"{s.calls:,} calls, mean {s.mean_ms:,.2f} ms, total {s.total_ms:,.0f} ms: "
                    f"{' '.join(s.query.split())[:120]}",
            evidence={"queryid": s.queryid, "query": s.query, "calls": s.calls, "mean_ms": round(s.mean_ms, 3),
                      "total_ms": round(s.total_ms, 3), "rows": s.rows, "cache_hit_pct": s.cache_hit_pct,
                      "why": "; ".join(reasons), "index_proposal": proposal.id if proposal else None},
            sql=proposal.sql if proposal else None))
    return findings


__all__ = ["Comparison", "advise", "stale_tables"]
