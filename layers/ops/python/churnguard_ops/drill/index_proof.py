"""Prove the advisor's index proposals on the drill's restored copy: time, create the index, time again, drop.

The connection is the copy's (DrillValidator.connect_copy: guarded, never the source). Reads run in
READ ONLY transactions with a statement timeout; only CREATE INDEX / ANALYZE / DROP INDEX of our own
``PROOF_INDEX_PREFIX`` indexes write, with their own timeout. Not CONCURRENTLY: the copy is private.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import psycopg2
from psycopg2 import sql

from churnguard_ops.core.contracts import PROOF_INDEX_PREFIX
from churnguard_ops.core.postgres import transaction
from churnguard_ops.drill import replay
from churnguard_ops.drill.proof_model import ProposalProof, StatementProof
from churnguard_ops.drill.proposals import IndexProposal, ProposalStatement

#: Seconds left over after a proposal, to return the results: a proposal is started only when the invocation
#: has this plus the longest proposal so far left (else "skipped": the function's time ran out).
RESERVE_SECONDS = 30.0

Binding = dict[int, tuple[str, str]]  # position -> (SQL type, value as text)


def proof_index_name(proposal_id: str) -> str:
    """Deterministic (a retried task finds and replaces its own index) and within 63 bytes."""
    return PROOF_INDEX_PREFIX + hashlib.sha256(proposal_id.encode()).hexdigest()[:12]


def _bound(statement: ProposalStatement, binding: Binding) -> list[str]:
    """What each placeholder was bound to: a column's sampled value (not shown), or a paging stand-in."""
    columns = {p.position: f"{p.schema_name}.{p.table}.{p.column}"
               for group in replay.parameters_by_table(statement).values() for p in group}
    paging = replay.paging(replay.normalize(statement.text))
    return [f"${n} -> {columns[n]}" if n in columns else
            f"${n} -> {paging[n].upper()} {binding[n][1]} (stand-in: the statement's own count is not recorded)"
            for n in sorted(binding)]


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


class IndexProver:
    def __init__(self, conn: Any, *, statement_timeout_ms: int, build_timeout_ms: int, max_statements: int,
                 repeats: int = 3, time_left: Callable[[], float] | None = None) -> None:
        if repeats < 1:
            raise ValueError("repeats must be >= 1")
        self.conn = conn
        self.statement_timeout_ms = statement_timeout_ms
        self.build_timeout_ms = build_timeout_ms
        self.max_statements = max_statements
        self.repeats = repeats
        self.time_left = time_left
        self._names = itertools.count(1)
        self._longest = 0.0  # seconds the slowest proposal so far took
        conn.autocommit = True  # DDL commits at once; reads open their own rolled-back transactions

    # -- catalog ------------------------------------------------------------------------------
    def _columns(self, schema: str, table: str) -> dict[str, str]:
        """column -> SQL type of ``schema.table`` on the copy; empty when there is no such table."""
        with transaction(self.conn, self.statement_timeout_ms, read_only=True) as cur:
            cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'm') "
                        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (schema, table))
            return {name: kind for name, kind in cur.fetchall()}

    def _covering_index(self, schema: str, table: str, columns: list[str]) -> str | None:
        """A valid, non-partial index of the table whose leading columns are exactly ``columns``."""
        with transaction(self.conn, self.statement_timeout_ms, read_only=True) as cur:
            cur.execute(
                "SELECT i.indexrelid::regclass::text, ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) "
                "WITH ORDINALITY k(attnum, ord) LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = k.attnum ORDER BY k.ord) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s "
                "AND i.indisvalid AND i.indpred IS NULL", (schema, table))
            for name, indexed in cur.fetchall():
                if list(indexed[:len(columns)]) == columns:
                    return str(name)
        return None

    # -- parameters ---------------------------------------------------------------------------
    def _bind(self, statement: ProposalStatement) -> Binding:
        """Values from the copy's median row (ordered by the compared columns), one row per table; an unmapped
        LIMIT / OFFSET count gets its stand-in (replay.PAGING_STAND_INS)."""
        mapped = {p.position for p in statement.parameters}
        binding: Binding = {n: ("bigint", replay.PAGING_STAND_INS[keyword])
                            for n, keyword in replay.paging(replay.normalize(statement.text)).items()
                            if n not in mapped}
        for (schema, table), parameters in replay.parameters_by_table(statement).items():
            types = self._columns(schema, table)
            columns = list(dict.fromkeys(p.column for p in parameters))
            missing = [c for c in columns if c not in types]
            if not types or missing:
                raise LookupError(f"{schema}.{table}" + (f" has no column {', '.join(missing)}" if types else
                                                          " is not on the copy"))
            target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            selected = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
            not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in columns)
            order = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            with transaction(self.conn, self.statement_timeout_ms, read_only=True) as cur:
                cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(target, not_null))
                rows = cur.fetchone()[0]
                if not rows:
                    raise LookupError(f"{schema}.{table} has no row with {', '.join(columns)} all set: "
                                      "no value to bind")
                cur.execute(sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} OFFSET %s LIMIT 1").format(
                    selected, target, not_null, order), (rows // 2,))
                values = dict(zip(columns, cur.fetchone(), strict=True))
            for parameter in parameters:
                binding[parameter.position] = (types[parameter.column], values[parameter.column])
        return binding

    # -- timing -------------------------------------------------------------------------------
    def _time(self, statement: ProposalStatement, binding: Binding) -> tuple[float, Any]:
        """One warm-up, then the median Execution Time of ``repeats`` runs, and the last run's plan."""
        text = replay.normalize(statement.text)
        positions = replay.placeholders(text)
        count = max(positions, default=0)
        types = [binding.get(n, ("text", ""))[0] for n in range(1, count + 1)]
        values = [binding[n][1] if n in binding else None for n in range(1, count + 1)]
        name = sql.Identifier(f"{PROOF_INDEX_PREFIX}stmt_{next(self._names)}")
        # Type names come from format_type() on the copy's catalog; the text is the advisor's SELECT.
        prepare = sql.SQL("PREPARE {} {} AS {}").format(
            name, sql.SQL("({})").format(sql.SQL(", ").join(sql.SQL(t) for t in types)) if types else sql.SQL(""),
            sql.SQL(text))
        execute = sql.SQL("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) EXECUTE {}{}").format(
            name, sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * count)) if count else sql.SQL(""))
        try:
            with transaction(self.conn, self.statement_timeout_ms, read_only=True) as cur:
                # Plan every execution for its own values, as the application's first executions are.
                cur.execute("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
                cur.execute(prepare)
                runs, plan = [], None
                for attempt in range(self.repeats + 1):
                    cur.execute(execute, values)
                    raw = cur.fetchone()[0]
                    plan = json.loads(raw) if isinstance(raw, str) else raw
                    if attempt:  # the first run warms the cache
                        runs.append(replay.execution_ms(plan))
        finally:
            with self.conn.cursor() as cur:  # a prepared statement outlives the rolled-back transaction
                cur.execute("DEALLOCATE ALL")
        return replay.median_ms(runs), plan

    # -- DDL on the copy ----------------------------------------------------------------------
    def _ddl(self, statement: sql.Composable) -> None:
        with self.conn.cursor() as cur:
            cur.execute("SELECT set_config('statement_timeout', %s, false)", (str(self.build_timeout_ms),))
            try:
                cur.execute(statement)
            finally:
                cur.execute("RESET statement_timeout")

    def _analyze(self, schema: str, table: str) -> None:
        self._ddl(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))

    def _drop(self, schema: str, name: str) -> None:
        self._ddl(sql.SQL("DROP INDEX IF EXISTS {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))

    def _index_bytes(self, schema: str, name: str) -> int:
        with transaction(self.conn, self.statement_timeout_ms, read_only=True) as cur:
            cur.execute("SELECT pg_relation_size(format('%%I.%%I', %s::text, %s::text)::regclass)", (schema, name))
            return int(cur.fetchone()[0])

    # -- one proposal -------------------------------------------------------------------------
    def prove(self, proposal: IndexProposal) -> ProposalProof:
        name = proof_index_name(proposal.id)
        proof = ProposalProof(id=proposal.id, label=proposal.label, schema_name=proposal.schema_name,
                              table=proposal.table, columns=proposal.columns, sql=proposal.sql, status="error",
                              index_name=name, method=replay.index_method(proposal.sql))
        if self.time_left is not None and self.time_left() < RESERVE_SECONDS + self._longest:
            return proof.model_copy(update={"status": "skipped", "index_name": None,
                                            "detail": "the proof function's time ran out before this proposal"})
        started = time.monotonic()
        try:
            return self._prove(proposal, proof)
        except Exception as exc:  # noqa: BLE001 - one proposal's failure is its own result; the others still run
            proof.detail = _error(exc)
            return proof
        finally:
            proof.dropped = self._drop_quietly(proposal.schema_name, name, proof)
            self._longest = max(self._longest, time.monotonic() - started)

    def _drop_quietly(self, schema: str, name: str, proof: ProposalProof) -> bool:
        try:
            if not self.conn.closed:
                self.conn.rollback()
                self._drop(schema, name)
                return True
        except psycopg2.Error as exc:  # the copy is deleted with the drill anyway; say so
            proof.detail = "; ".join(filter(None, [proof.detail, f"could not drop {name}: {_error(exc)}"]))
        return False

    def _prove(self, proposal: IndexProposal, proof: ProposalProof) -> ProposalProof:
        schema, table, columns = proposal.schema_name, proposal.table, proposal.columns
        types = self._columns(schema, table)
        missing = [c for c in columns if c not in types]
        if not types or missing:
            proof.detail = (f"{schema}.{table} is not on the copy" if not types
                            else f"{schema}.{table} has no column {', '.join(missing)} on the copy")
            return proof
        covering = self._covering_index(schema, table, columns)
        if covering:
            proof.status, proof.index_name = "already_indexed", None
            proof.detail = f"the copy already has {covering} on these leading columns (applied since the advice?)"
            return proof
        statements = [StatementProof(queryid=s.queryid, text=s.text, calls=s.calls)
                      for s in proposal.statements[:self.max_statements]]
        bindings: dict[int, Binding] = {}
        for index, (source, result) in enumerate(zip(proposal.statements, statements, strict=False)):
            result.reason = replay.refusal(source)
            if result.reason is None:
                try:
                    bindings[index] = self._bind(source)
                    result.bound = _bound(source, bindings[index])
                except (LookupError, psycopg2.Error) as exc:
                    result.reason = f"no value to bind: {exc}" if isinstance(exc, LookupError) else _error(exc)
        self._analyze(schema, table)  # both series on fresh statistics: only the index differs
        before = self._series(proposal, statements, bindings, "before")
        self._drop(schema, proof.index_name or "")  # a retried task's leftover
        started = time.perf_counter()
        self._ddl(sql.SQL("CREATE INDEX {} ON {}.{} USING {} ({})").format(
            sql.Identifier(proof.index_name or ""), sql.Identifier(schema), sql.Identifier(table),
            sql.SQL(proof.method), sql.SQL(", ").join(sql.Identifier(c) for c in columns)))
        proof.build_ms = round((time.perf_counter() - started) * 1000.0, 3)
        self._analyze(schema, table)
        proof.index_bytes = self._index_bytes(schema, proof.index_name or "")
        after = self._series(proposal, statements, bindings, "after")
        for index, result in enumerate(statements):
            if index in before and index in after:
                result.replayed = True
                result.before_ms, result.before_plan = round(before[index][0], 3), replay.scan_nodes(before[index][1])
                result.after_ms, result.after_plan = round(after[index][0], 3), replay.scan_nodes(after[index][1])
                result.speedup = round(replay.speedup(before[index][0], after[index][0]), 2)
                result.uses_index = replay.uses_index(after[index][1], proof.index_name or "")
        replayed = [r for r in statements if r.replayed]
        proof.statements = statements
        if not replayed:
            proof.status = "not_replayed"
            proof.detail = "no statement of this proposal could be replayed" if statements else \
                "the proposal names no statement"
            return proof
        weighted_before = replay.weighted_ms((before[i][0], r.calls) for i, r in enumerate(statements) if r.replayed)
        weighted_after = replay.weighted_ms((after[i][0], r.calls) for i, r in enumerate(statements) if r.replayed)
        assert weighted_before is not None and weighted_after is not None
        proof.status = "proven"
        proof.before_ms, proof.after_ms = round(weighted_before, 3), round(weighted_after, 3)
        proof.speedup = round(replay.speedup(weighted_before, weighted_after), 2)
        proof.uses_index = any(r.uses_index for r in replayed)
        return proof

    def _series(self, proposal: IndexProposal, statements: list[StatementProof], bindings: dict[int, Binding],
                when: str) -> dict[int, tuple[float, Any]]:
        """Time every bound statement; a failure is recorded on the statement, the others still run."""
        timed = {}
        for index, binding in bindings.items():
            result = statements[index]
            if result.reason is not None:
                continue
            try:
                timed[index] = self._time(proposal.statements[index], binding)
            except psycopg2.Error as exc:
                result.reason = f"{when} the index: {_error(exc)}"
        return timed
