"""Index findings: missing indexes at column level, unused indexes, duplicate and redundant indexes."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from churnguard_ops.dbadvisor.model import (
    ColumnStats,
    Finding,
    IndexInfo,
    IndexProposal,
    ParameterRef,
    ProposalStatement,
    StatementStats,
    TableStats,
)
from churnguard_ops.dbadvisor.naming import create_index_sql, drop_index_sql
from churnguard_ops.dbadvisor.statements import Comparison
from churnguard_ops.dbadvisor.thresholds import Thresholds

#: The planner's default selectivity of an open range against an unknown value (and of a closed one).
RANGE_SELECTIVITY = 1 / 3
BOUNDED_RANGE_SELECTIVITY = 0.005

Key = tuple[str, str]  # (schema, table)


def equality_selectivity(stats: ColumnStats | None, rows: int) -> float | None:
    """Expected fraction of rows an equality matches for a value drawn as the data is: the sum of squared value
    frequencies (most common values from pg_stats, the rest spread evenly over the other distinct values);
    1/n_distinct when uniform. None without statistics."""
    if stats is None or stats.n_distinct == 0:
        return None
    distinct = stats.n_distinct if stats.n_distinct > 0 else -stats.n_distinct * max(rows, 1)
    distinct = max(distinct, 1.0)
    common = sum(stats.most_common_freqs)
    others = max(distinct - len(stats.most_common_freqs), 1.0)
    rest = max(1.0 - stats.null_frac - common, 0.0)
    return sum(f * f for f in stats.most_common_freqs) + rest * rest / others


@dataclass
class _Candidate:
    schema: str
    table: str
    columns: list[str]
    statements: list[StatementStats] = field(default_factory=list)
    selectivity: dict[str, float | None] = field(default_factory=dict)
    combined: float = 1.0


@dataclass
class MissingIndexResult:
    findings: list[Finding]
    proposals: list[IndexProposal]
    skipped: list[dict[str, object]]


def seq_scanned(table: TableStats, t: Thresholds) -> tuple[bool, str]:
    """Mostly sequentially scanned, and large enough that an index pays off; the reason when not."""
    if table.n_live_tup < t.min_table_rows:
        return False, f"{table.n_live_tup:,} rows < min_table_rows {t.min_table_rows:,}"
    if table.seq_scan <= table.idx_scan:
        return False, f"mostly index-scanned ({table.idx_scan:,} index vs {table.seq_scan:,} sequential scans)"
    per_scan = table.seq_tup_read / max(table.seq_scan, 1)
    if per_scan < t.min_rows_per_seq_scan:
        return False, f"sequential scans read {per_scan:,.0f} rows on average < {t.min_rows_per_seq_scan:,}"
    return True, ""


def missing_indexes(parsed: list[tuple[StatementStats, tuple[Comparison, ...]]], tables: dict[Key, TableStats],
                    indexes: list[IndexInfo], column_stats: dict[tuple[str, str, str], ColumnStats],
                    t: Thresholds) -> MissingIndexResult:
    skipped: list[dict[str, object]] = []
    candidates: dict[tuple[str, str, tuple[str, ...]], _Candidate] = {}
    for statement, comparisons in parsed:
        by_table: dict[Key, list[Comparison]] = defaultdict(list)
        for c in comparisons:
            by_table[(c.schema, c.table)].append(c)
        for key, found in by_table.items():
            table = tables.get(key)
            if table is None:
                continue
            scanned, why = seq_scanned(table, t)
            if not scanned:
                skipped.append({"queryid": statement.queryid, "table": ".".join(key), "reason": why})
                continue
            candidate = _candidate(key, found, table, column_stats, t)
            if isinstance(candidate, str):
                skipped.append({"queryid": statement.queryid, "table": ".".join(key), "reason": candidate})
                continue
            leading = _existing_leading(indexes, key, candidate.columns[0])
            if leading:
                skipped.append({"queryid": statement.queryid, "table": ".".join(key),
                                "reason": f"existing index {leading} already leads with {candidate.columns[0]}"})
                continue
            merged = candidates.setdefault((*key, tuple(candidate.columns)), candidate)
            merged.statements.append(statement)
    kept = _merge_prefixes(list(candidates.values()))
    findings, proposals = [], []
    for cand in kept:
        table = tables[(cand.schema, cand.table)]
        sql = create_index_sql(cand.schema, cand.table, cand.columns)
        ident = f"missing_index:{cand.schema}.{cand.table}:{','.join(cand.columns)}"
        statements = sorted(cand.statements, key=lambda s: -s.total_ms)
        findings.append(Finding(
            kind="missing_index", schema=cand.schema, table=cand.table, columns=cand.columns, sql=sql,
            summary=f"{cand.schema}.{cand.table} ({table.n_live_tup:,} rows) is scanned sequentially for "
                    f"{len(statements)} statement(s) filtering on ({', '.join(cand.columns)}): an index would read "
                    f"{_share(cand.combined)} of it",
            evidence={"seq_scan": table.seq_scan, "idx_scan": table.idx_scan, "seq_tup_read": table.seq_tup_read,
                      "n_live_tup": table.n_live_tup,
                      "rows_per_seq_scan": round(table.seq_tup_read / max(table.seq_scan, 1)),
                      "column_selectivity": {c: (None if s is None else round(s, 5))
                                             for c, s in cand.selectivity.items()},
                      "estimated_fraction_read": round(cand.combined, 6),
                      "statements": [{"queryid": s.queryid, "calls": s.calls, "mean_ms": round(s.mean_ms, 3),
                                      "total_ms": round(s.total_ms, 3), "query": s.query} for s in statements]}))
        proposals.append(IndexProposal(
            id=ident, schema=cand.schema, table=cand.table, columns=cand.columns, sql=sql,
            statements=[ProposalStatement(queryid=s.queryid, text=s.query, calls=s.calls, mean_ms=round(s.mean_ms, 3),
                                          parameters=_parameters(parsed, s)) for s in statements]))
    return MissingIndexResult(findings, proposals, skipped)


def _candidate(key: Key, found: list[Comparison], table: TableStats,
               column_stats: dict[tuple[str, str, str], ColumnStats], t: Thresholds) -> _Candidate | str:
    """Equality columns (most selective first), then the most selective range column: the order a btree serves."""
    schema, name = key
    selectivity: dict[str, float | None] = {}
    equalities: dict[str, float | None] = {}
    ranges: dict[str, float] = {}
    dropped = []
    for c in found:
        sel = equality_selectivity(column_stats.get((schema, name, c.column)), table.n_live_tup)
        selectivity[c.column] = sel
        if c.op in ("eq", "join"):
            if sel is not None and sel > t.max_column_selectivity:
                dropped.append(f"{c.column} (an equality matches {100 * sel:.0f} % of rows)")
                continue
            equalities.setdefault(c.column, sel)
        else:
            ranges[c.column] = min(ranges.get(c.column, 1.0),
                                   BOUNDED_RANGE_SELECTIVITY if c.bounded else RANGE_SELECTIVITY)
    for column in equalities:
        ranges.pop(column, None)
    ordered = sorted(equalities, key=lambda col: (equalities[col] if equalities[col] is not None else 1.0, col))
    combined = 1.0
    for column in ordered:
        known = equalities[column]
        combined *= known if known is not None else 1.0
    if ranges:
        best = min(ranges, key=lambda col: (ranges[col], col))
        ordered.append(best)
        combined *= ranges[best]
    if not ordered:
        return "no indexable column" + (f": {', '.join(dropped)}" if dropped else "")
    if combined > t.max_index_selectivity:
        return (f"({', '.join(ordered)}) would still read ~{100 * combined:.1f} % of the rows "
                f"(> max_index_selectivity {100 * t.max_index_selectivity:.1f} %)")
    return _Candidate(schema, name, ordered, selectivity={c: selectivity.get(c) for c in ordered}, combined=combined)


def _existing_leading(indexes: list[IndexInfo], key: Key, column: str) -> str | None:
    for index in indexes:
        if (index.schema, index.table) == key and index.is_valid and index.predicate is None \
                and index.method == "btree" and index.columns[:1] == (column,):
            return index.index
    return None


def _merge_prefixes(candidates: list[_Candidate]) -> list[_Candidate]:
    """A candidate whose columns lead another's on the same table is served by that one: merge its statements."""
    ordered = sorted(candidates, key=lambda c: -len(c.columns))
    kept: list[_Candidate] = []
    for cand in ordered:
        host = next((k for k in kept if (k.schema, k.table) == (cand.schema, cand.table)
                     and k.columns[:len(cand.columns)] == cand.columns), None)
        if host is None:
            kept.append(cand)
        else:
            host.statements.extend(s for s in cand.statements if s not in host.statements)
    return sorted(kept, key=lambda c: -sum(s.total_ms for s in c.statements))


def _parameters(parsed: list[tuple[StatementStats, tuple[Comparison, ...]]],
                statement: StatementStats) -> list[ParameterRef]:
    refs: dict[int, ParameterRef] = {}
    for stats, comparisons in parsed:
        if stats.queryid != statement.queryid:
            continue
        for c in comparisons:
            for position in c.positions:
                refs.setdefault(position, ParameterRef(position=position, schema=c.schema, table=c.table,
                                                       column=c.column))
    return [refs[p] for p in sorted(refs)]


# --- indexes to drop ----------------------------------------------------------------------------------------------
def duplicate_indexes(indexes: list[IndexInfo]) -> list[Finding]:
    """Same table, method, key (columns/expressions, opclasses, collations, ordering, INCLUDE) and predicate:
    keep the one a constraint needs (else the most used); drop the others unless they are protected too."""
    groups: dict[tuple[str, str, str, str, str], list[IndexInfo]] = defaultdict(list)
    for index in indexes:
        if index.is_valid:
            groups[(index.schema, index.table, index.method, index.key_signature, index.predicate or "")].append(index)
    findings = []
    for group in groups.values():
        if len(group) < 2:
            continue
        keep = sorted(group, key=lambda i: (i.protected is None, -i.idx_scan, i.index))[0]
        for index in group:
            if index is keep or index.protected:
                continue
            findings.append(Finding(
                kind="duplicate_index", schema=index.schema, table=index.table, index=index.index,
                columns=[c for c in index.columns if c],
                summary=f"{index.schema}.{index.index} duplicates {keep.index} (same key and predicate): "
                        f"{_mib(index.size_bytes)} and write cost for nothing",
                evidence={"duplicate_of": keep.index, "definition": index.definition,
                          "kept_definition": keep.definition, "size_bytes": index.size_bytes,
                          "idx_scan": index.idx_scan, "kept_idx_scan": keep.idx_scan,
                          "kept_because": keep.protected or ("more scans" if keep.idx_scan > index.idx_scan
                                                             else "first by name")},
                sql=drop_index_sql(index.schema, index.index)))
    return findings


def redundant_indexes(indexes: list[IndexInfo], already: set[tuple[str, str]]) -> list[Finding]:
    """A btree whose key is a leading prefix of another valid btree's on the same table, with the same
    predicate: the longer one serves its lookups. Never one that is protected (it enforces something)."""
    findings = []
    for index in indexes:
        if (index.schema, index.index) in already or not index.is_valid or index.method != "btree" \
                or index.protected:
            continue
        for other in indexes:
            if other is index or (other.schema, other.table) != (index.schema, index.table) \
                    or (other.schema, other.index) in already or not other.is_valid or other.method != "btree" \
                    or other.predicate != index.predicate or len(other.key_parts) <= len(index.key_parts) \
                    or other.key_parts[:len(index.key_parts)] != index.key_parts:
                continue
            findings.append(Finding(
                kind="redundant_index", schema=index.schema, table=index.table, index=index.index,
                columns=[c for c in index.columns if c],
                summary=f"{index.schema}.{index.index} is a leading prefix of {other.index}, which serves the "
                        f"same lookups: {_mib(index.size_bytes)} and write cost to save",
                evidence={"covered_by": other.index, "definition": index.definition,
                          "covering_definition": other.definition, "size_bytes": index.size_bytes,
                          "idx_scan": index.idx_scan},
                sql=drop_index_sql(index.schema, index.index)))
            break
    return findings


def unused_indexes(indexes: list[IndexInfo], already: set[tuple[str, str]], stats_reset: datetime | None,
                   now: datetime, t: Thresholds) -> tuple[list[Finding], str | None]:
    """No scan since the statistics were reset; never a primary key, unique, exclusion or constraint index.
    Returns the findings and, when the statistics are too young to judge, why none are reported."""
    age_days = (now - stats_reset).total_seconds() / 86400 if stats_reset else None
    if age_days is not None and age_days < t.unused_min_stats_days:
        return [], (f"statistics were reset {age_days:.1f} days ago (< unused_min_stats_days "
                    f"{t.unused_min_stats_days}): too soon to call an index unused")
    since = (f"since the statistics reset {stats_reset.isoformat()} ({age_days:.1f} days)" if stats_reset
             else "since the statistics began (never reset)")
    findings = []
    for index in indexes:
        if index.idx_scan or not index.is_valid or index.protected or (index.schema, index.index) in already:
            continue
        findings.append(Finding(
            kind="unused_index", schema=index.schema, table=index.table, index=index.index,
            columns=[c for c in index.columns if c],
            summary=f"{index.schema}.{index.index} on {index.table}: no scan {since}; {_mib(index.size_bytes)}",
            evidence={"idx_scan": 0, "size_bytes": index.size_bytes, "definition": index.definition,
                      "stats_reset": stats_reset.isoformat() if stats_reset else None,
                      "stats_age_days": None if age_days is None else round(age_days, 2),
                      "caveat": "scans on replicas are counted there, not here"},
            sql=drop_index_sql(index.schema, index.index)))
    return findings, None


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:,.2f} MiB"


def _share(fraction: float) -> str:
    """A fraction as a readable percentage: tiny ones as "< 0.01 %" rather than a misleading "0.00 %"."""
    percent = 100 * fraction
    return "< 0.01 %" if 0 < percent < 0.01 else f"~{percent:.2f} %"
