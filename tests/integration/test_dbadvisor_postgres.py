"""The PostgreSQL advisor against real PostgreSQL (one embedded server for the module): each finding kind, a schema
it has never seen with quoted identifiers, no finding on primary keys or unique indexes, and a database without
pg_stat_statements."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from churnguard_ops.dbadvisor.catalog import ENABLE_EXTENSION, ENABLE_PRELOAD, PostgresCatalog
from churnguard_ops.dbadvisor.model import Advice
from churnguard_ops.dbadvisor.service import advise_database
from churnguard_ops.dbadvisor.thresholds import Thresholds
from opsctl.local.churnguard_schema import seed_churnguard
from opsctl.local.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


def clock() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres() as server:
        yield server


def run_sql(dsn: str, *statements: str | sql.Composable, params: Any = None) -> None:
    """Autocommit, then close: a session's statistics are counted once it ends."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement, params)
    finally:
        conn.close()


def advise_dsn(dsn: str, thresholds: Thresholds | None = None, *, analyze_stale: bool = False) -> Advice:
    conn = psycopg2.connect(dsn)
    try:
        return advise_database(PostgresCatalog(conn), db_instance_id="local", database=conn.info.dbname,
                               thresholds=thresholds or Thresholds(), clock=clock, analyze_stale=analyze_stale)
    finally:
        conn.close()


def by_kind(advice: Advice, kind: str) -> list[Any]:
    return [f for f in advice.findings if f.kind == kind]


# --- the seeded ChurnGuard database ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def churnguard(pg: EmbeddedPostgres) -> tuple[str, Advice]:
    dsn = pg.create_database("advisor_churnguard")
    seed_churnguard(dsn)
    return dsn, advise_dsn(dsn)


def test_the_seeded_workload_gets_a_column_level_index_proposal_with_its_placeholders(pg, churnguard):
    _, advice = churnguard
    if not pg.preloaded:  # the pgserver fallback has no pg_stat_statements: no statements to read
        assert advice.proposals == []
        return
    (finding,) = by_kind(advice, "missing_index")
    assert (finding.schema_, finding.table, finding.columns) == ("public", "usage_events", ["org_id", "kind"])
    assert finding.sql == ("CREATE INDEX CONCURRENTLY IF NOT EXISTS usage_events_org_id_kind_idx "
                           "ON public.usage_events USING btree (org_id, kind);")
    assert finding.evidence["seq_scan"] > finding.evidence["idx_scan"]
    (proposal,) = advice.proposals
    texts = {s.text: s for s in proposal.statements}
    count = texts["SELECT count(*) FROM usage_events WHERE org_id = $1 AND kind = $2"]
    assert count.calls == 12 and [(p.position, p.column) for p in count.parameters] == [(1, "org_id"), (2, "kind")]


def test_the_proposed_index_turns_the_workloads_sequential_scan_into_an_index_scan(pg, churnguard):
    dsn, advice = churnguard
    copy = pg.create_database("advisor_churnguard_copy", template="advisor_churnguard")
    query = "EXPLAIN (FORMAT JSON) SELECT count(*) FROM usage_events WHERE org_id = 3 AND kind = 'login'"

    def plan() -> str:
        conn = psycopg2.connect(copy)
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                return str(cur.fetchone()[0])
        finally:
            conn.close()

    assert "Seq Scan" in plan()
    proposal_sql = advice.proposals[0].sql if advice.proposals else \
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS usage_events_org_id_kind_idx ON public.usage_events (org_id, kind);"
    run_sql(copy, proposal_sql)  # verbatim: CONCURRENTLY needs autocommit, as an operator would run it
    after = plan()
    assert "usage_events_org_id_kind_idx" in after and "Seq Scan" not in after


def test_the_duplicate_and_the_unused_index_of_the_seed_are_found(churnguard):
    _, advice = churnguard
    (dup,) = by_kind(advice, "duplicate_index")
    assert dup.table == "usage_events" and {dup.index, dup.evidence["duplicate_of"]} == {
        "usage_events_occurred_idx", "usage_events_occurred_at_idx"}
    assert dup.sql == f"DROP INDEX CONCURRENTLY IF EXISTS public.{dup.index};"
    unused = {f.index for f in by_kind(advice, "unused_index")}
    assert "usage_events_source_time_idx" in unused and dup.index not in unused


def test_no_finding_ever_names_a_primary_key_or_unique_index(churnguard):
    dsn, advice = churnguard
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND (i.indisprimary OR i.indisunique)")
            protected = {row[0] for row in cur.fetchall()}
    finally:
        conn.close()
    assert {"users_email_key", "customers_org_id_id_key", "usage_events_pkey"} <= protected
    assert not protected & {f.index for f in advice.findings}


def test_health_is_read_from_the_server(pg, churnguard):
    _, advice = churnguard
    health = advice.health
    assert health["connections"] >= 1 and health["max_connections"] == 50
    assert 2**31 - 10**6 < health["xid_headroom"] <= 2**31 and health["autovacuum_freeze_max_age"] == 200_000_000
    assert advice.pg_stat_statements["available"] is bool(pg.preloaded)
    assert by_kind(advice, "stale_statistics") == [] and by_kind(advice, "wraparound") == []


# --- a schema the advisor has never seen ----------------------------------------------------------------------------
SALES_DDL = """
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Items" (
    "Id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "OrderRef" text NOT NULL UNIQUE,
    "Status" text NOT NULL,
    "Region Code" int NOT NULL,
    placed_at timestamptz NOT NULL,
    qty int NOT NULL
);
INSERT INTO "Sales"."Order Items" ("OrderRef", "Status", "Region Code", placed_at, qty)
SELECT 'ord-' || g, (ARRAY['new', 'paid', 'packed', 'shipped', 'delivered', 'returned', 'lost', 'held',
                           'void', 'open'])[1 + g % 10], g % 97, now() - g * interval '1 minute', 1 + g % 5
FROM generate_series(1, 20000) g;
CREATE INDEX "Qty Idx" ON "Sales"."Order Items" (qty);
CREATE INDEX "Qty Placed" ON "Sales"."Order Items" (qty, placed_at);
CREATE INDEX ref_copy ON "Sales"."Order Items" ("OrderRef");
ANALYZE "Sales"."Order Items";
"""


@pytest.fixture(scope="module")
def sales(pg: EmbeddedPostgres) -> tuple[str, Advice]:
    dsn = pg.create_database("sales")
    run_sql(dsn, SALES_DDL)
    if pg.preloaded:
        run_sql(dsn, "CREATE EXTENSION pg_stat_statements")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for status in ("paid", "lost", "void", "held", "open", "new"):
                for region in (3, 17, 42):
                    cur.execute('SELECT oi."Id", oi.qty FROM "Sales"."Order Items" AS oi '
                                'WHERE oi."Status" = %s AND oi."Region Code" = %s', (status, region))
                    cur.fetchall()
            cur.execute('SELECT count(*) FROM "Sales"."Order Items" WHERE qty = 3 AND placed_at > now() - '
                        "interval '1 day'")
    finally:
        conn.close()
    return dsn, advise_dsn(dsn)


def test_an_unfamiliar_schema_with_quoted_identifiers_gets_quoted_column_level_advice(pg, sales):
    dsn, advice = sales
    if not pg.preloaded:
        assert advice.pg_stat_statements["available"] is False
        return
    (finding,) = by_kind(advice, "missing_index")
    assert (finding.schema_, finding.table) == ("Sales", "Order Items")
    assert finding.columns == ["Region Code", "Status"]  # 97 regions before 10 statuses: most selective first
    assert finding.sql == ('CREATE INDEX CONCURRENTLY IF NOT EXISTS order_items_region_code_status_idx ON '
                           '"Sales"."Order Items" USING btree ("Region Code", "Status");')
    (statement,) = advice.proposals[0].statements
    assert [(p.position, p.schema_, p.table, p.column) for p in statement.parameters] == [
        (1, "Sales", "Order Items", "Status"), (2, "Sales", "Order Items", "Region Code")]
    run_sql(dsn, finding.sql)  # the SQL is valid as written, quoting included
    run_sql(dsn, 'DROP INDEX "Sales".order_items_region_code_status_idx')


def test_an_unfamiliar_schema_gets_its_redundant_and_duplicate_indexes_but_never_its_keys(sales):
    _, advice = sales
    (redundant,) = by_kind(advice, "redundant_index")
    assert (redundant.index, redundant.evidence["covered_by"]) == ("Qty Idx", "Qty Placed")
    assert redundant.sql == 'DROP INDEX CONCURRENTLY IF EXISTS "Sales"."Qty Idx";'
    (dup,) = by_kind(advice, "duplicate_index")
    assert dup.index == "ref_copy" and dup.evidence["duplicate_of"] == "Order Items_OrderRef_key"
    named = {f.index for f in advice.findings}
    assert not named & {"Order Items_pkey", "Order Items_OrderRef_key"}


def test_statements_of_other_databases_are_left_out(pg, churnguard, sales):
    _, advice = sales
    assert not [s for s in advice.skipped_statements if "usage_events" in s["query"]]
    assert all("usage_events" not in str(f.evidence) for f in advice.findings)
    _, churnguard_advice = churnguard
    assert all("Order Items" not in str(f.evidence) for f in churnguard_advice.findings)


# --- stale statistics, bloat, no pg_stat_statements -----------------------------------------------------------------
@dataclass
class Scratch:
    dsn: str
    advice: Advice


@pytest.fixture(scope="module")
def scratch(pg: EmbeddedPostgres) -> Scratch:
    dsn = pg.create_database("advisor_scratch")
    run_sql(dsn,
            "CREATE TABLE churned (id bigint PRIMARY KEY, note text NOT NULL)",
            "INSERT INTO churned SELECT g, repeat('x', 100) FROM generate_series(1, 50000) g",
            "CREATE TABLE steady (id bigint PRIMARY KEY, v int NOT NULL)",
            "INSERT INTO steady SELECT g, g FROM generate_series(1, 5000) g")
    run_sql(dsn, "ANALYZE churned, steady")  # a session of its own: the inserts are counted before it
    run_sql(dsn, "DELETE FROM churned WHERE id % 5 <> 0")  # 80 % dead, never vacuumed
    run_sql(dsn, "UPDATE steady SET v = v + 1 WHERE id <= 1500")  # 30 % modified since the analyze
    run_sql(dsn, "ANALYZE churned")  # reltuples follow the deletes; the pages stay
    thresholds = Thresholds(bloat_min_bytes=0, stale_min_rows=1000)
    return Scratch(dsn, advise_dsn(dsn, thresholds, analyze_stale=True))


def test_table_and_index_bloat_are_estimated_from_the_statistics(scratch):
    (table,) = [f for f in by_kind(scratch.advice, "table_bloat") if f.table == "churned"]
    assert 0.6 < table.evidence["estimated_bloat_pct"] / 100 < 0.9 and table.sql == "VACUUM (ANALYZE) public.churned;"
    assert "pg_stats" in table.evidence["method"]
    (index,) = [f for f in by_kind(scratch.advice, "index_bloat") if f.index == "churned_pkey"]
    assert index.evidence["estimated_bloat_pct"] > 50
    assert index.sql == "REINDEX INDEX CONCURRENTLY public.churned_pkey;"


def test_stale_statistics_are_found_and_only_those_tables_analyzed_when_configured(scratch):
    (stale,) = by_kind(scratch.advice, "stale_statistics")
    assert stale.table == "steady" and stale.evidence["n_mod_since_analyze"] == 1500
    assert scratch.advice.analyzed_tables == ["public.steady"]
    again = advise_dsn(scratch.dsn, Thresholds(bloat_min_bytes=0))
    assert by_kind(again, "stale_statistics") == []


def test_without_pg_stat_statements_in_the_database_it_says_so_and_still_checks_the_catalog(pg, scratch):
    advice = scratch.advice
    (note,) = [n for n in advice.notes if n.topic == "pg_stat_statements"]
    assert note.status == "not_available"
    assert note.enable == (ENABLE_EXTENSION if pg.preloaded else ENABLE_PRELOAD)
    assert advice.pg_stat_statements["available"] is False and advice.proposals == []
    assert by_kind(advice, "table_bloat") and by_kind(advice, "stale_statistics")


# --- opsctl db advise --dsn ---------------------------------------------------------------------------------------
def test_opsctl_db_advise_dsn_prints_the_proposals_and_writes_the_advice(sales, tmp_path, capsys):
    from opsctl.cli import main

    dsn, _ = sales
    assert main(["db", "advise", "--dsn", dsn, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "/ sales (PostgreSQL" in printed and "redundant index" in printed
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "Sales"."Qty Idx";' in printed
    advice = json.loads((tmp_path / "db-advice.json").read_text())
    assert advice["database"] == "sales" and advice["counts"]["redundant_index"] == 1
    assert all({"kind", "schema", "table", "index", "columns", "evidence", "sql"} <= set(f) for f in advice["findings"])
    assert "## Redundant indexes" in (tmp_path / "db-advice.md").read_text()


def test_opsctl_db_advise_with_an_unreachable_dsn_says_so_in_one_line_and_exits_2(pg, capsys):
    from opsctl.cli import main

    assert main(["db", "advise", "--dsn", f"host=127.0.0.1 port={pg.port} user=nobody_here dbname=none"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("opsctl db advise: --dsn: cannot connect to that database (") and "\n" not in err


def test_indexes_of_a_partitioned_table_are_left_alone(pg):
    dsn = pg.create_database("advisor_partitions")
    run_sql(dsn, "CREATE TABLE readings (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at)",
            "CREATE TABLE readings_2026 PARTITION OF readings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
            "CREATE INDEX readings_at_idx ON readings (at)",
            "CREATE INDEX readings_2026_at_copy ON readings_2026 (at)")
    advice = advise_dsn(dsn)
    dropped = {f.index for f in advice.findings if f.sql and f.sql.startswith("DROP")}
    assert dropped == {"readings_2026_at_copy"}  # never the partitioned index nor its attached partition index
