"""Integrity checks on a real PostgreSQL copy: healthy passes, each corruption is caught and named."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg2  # noqa: E402  (a hard dependency: missing it must fail, not skip)
import pytest
from psycopg2 import sql  # noqa: E402

from churnguard_ops.core.row_counts import capture_baseline  # noqa: E402
from churnguard_ops.drill.checks import (  # noqa: E402
    CHECKS,
    DEFAULT_CHECKS,
    CheckContext,
    CheckParams,
    CheckResult,
    CheckSpec,
    IntegrityCheck,
    run_checks,
)
from churnguard_ops.drill.checks.amcheck import SKIPPED_UNAVAILABLE  # noqa: E402
from opsctl.local.churnguard_schema import corrupt, seed_churnguard  # noqa: E402
from opsctl.local.postgres import EmbeddedPostgres  # noqa: E402

pytestmark = pytest.mark.integration


@dataclass
class Seeded:
    template: str
    counts: dict[str, int]
    baseline: dict[str, int]


@dataclass
class Copy:
    dsn: str
    connect: Callable[[], Any]


@pytest.fixture(scope="module")
def pg() -> EmbeddedPostgres:
    # No PostgreSQL is a failure, not a skip: `make setup` installs pgserver where binaries are missing.
    with EmbeddedPostgres() as server:  # default state dir under /tmp, traversable by postgres
        yield server


@pytest.fixture(scope="module")
def seeded(pg: EmbeddedPostgres) -> Seeded:
    dsn = pg.create_database("churnguard_template")
    counts = seed_churnguard(dsn)
    conn = psycopg2.connect(dsn)
    try:
        baseline = capture_baseline(conn)
    finally:
        conn.close()  # CREATE DATABASE ... TEMPLATE needs the template to be idle
    return Seeded("churnguard_template", counts, baseline)


@pytest.fixture
def copy(pg: EmbeddedPostgres, seeded: Seeded):
    """A fresh "restored copy" per test: CREATE DATABASE ... TEMPLATE the seeded one."""
    name = f"drill_{uuid.uuid4().hex[:10]}"
    dsn = pg.create_database(name, template=seeded.template)
    conns: list[Any] = []

    def connect() -> Any:
        conns.append(psycopg2.connect(dsn))
        return conns[-1]

    yield Copy(dsn, connect)
    for conn in conns:
        conn.close()
    admin = psycopg2.connect(pg.dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def _execute(dsn: str, statements: str) -> None:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statements)
    finally:
        conn.close()


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


# -- the seeded ChurnGuard schema ---------------------------------------------------------------------

def test_healthy_copy_passes_every_default_check(copy: Copy, seeded: Seeded) -> None:
    results = run_checks(copy.connect(), DEFAULT_CHECKS, CheckContext(baseline=seeded.baseline))

    assert [r.name for r in results] == [s.check for s in DEFAULT_CHECKS]
    assert {r.name: r.status for r in results} == {s.check: "passed" for s in DEFAULT_CHECKS}, \
        [r.model_dump() for r in results]
    assert all(r.duration_ms is not None for r in results)


@pytest.mark.parametrize(("case", "failing", "table"), [
    ("orphan_fk", {"foreign_key_orphans"}, "public.predictions"),
    ("empty_critical_table", {"critical_tables_non_empty", "row_counts_vs_baseline"}, "public.predictions"),
    ("sequence_behind", {"sequences_not_behind"}, "public.users"),
    ("drop_table", {"row_counts_vs_baseline"}, "public.subscriptions"),
])
def test_each_corruption_fails_exactly_the_checks_that_cover_it_and_names_the_table(
        copy: Copy, seeded: Seeded, case: str, failing: set[str], table: str) -> None:
    assert corrupt(copy.dsn, case)["table"] == table

    results = run_checks(copy.connect(), DEFAULT_CHECKS, CheckContext(baseline=seeded.baseline))

    assert {r.name for r in results if not r.passed} == failing
    for result in results:
        if result.name in failing:
            assert result.status == "failed"
            assert table in result.detail
            assert any(f.get("table") == table for f in result.findings)


def test_orphan_finding_names_constraint_count_and_example_values(copy: Copy) -> None:
    corrupt(copy.dsn, "orphan_fk")

    (result,) = run_checks(copy.connect(), [CheckSpec(check="foreign_key_orphans")])

    (finding,) = result.findings
    assert finding["constraint"] == "predictions_customer_id_fkey"
    assert finding["references"] == "public.customers"
    assert finding["orphans"] == 1
    assert finding["columns"] == ["customer_id"]
    assert finding["examples"][0]["customer_id"] > 1_000_000


def test_composite_foreign_key_orphans_are_found(copy: Copy) -> None:
    # Customer 1 belongs to org 1; claiming it for org 2 violates subscriptions(org_id, customer_id).
    _execute(copy.dsn, "SET session_replication_role = replica; "
                       "INSERT INTO subscriptions (org_id, customer_id, plan, status, mrr, started_at) "
                       "VALUES (2, 1, 'starter', 'active', 10, now())")

    (result,) = run_checks(copy.connect(), [CheckSpec(check="foreign_key_orphans")])

    assert result.status == "failed"
    (finding,) = result.findings
    assert finding["constraint"] == "subscriptions_customer_fkey"
    assert finding["columns"] == ["org_id", "customer_id"]
    assert finding["examples"] == [{"org_id": 2, "customer_id": 1}]


def test_amcheck_verifies_btree_indexes_and_leaves_the_copy_unchanged(copy: Copy) -> None:
    conn = copy.connect()
    (result,) = run_checks(conn, [CheckSpec(check="amcheck")])

    assert result.status == "passed", result.detail
    assert "18 btree indexes verified" in result.detail  # 6 PKs + 4 unique + 8 secondary indexes (4 on usage_events)
    with conn.cursor() as cur:  # CREATE EXTENSION ran inside the check's rolled-back transaction
        cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'")
        assert cur.fetchone()[0] == 0


def test_amcheck_reports_skipped_when_the_extension_is_not_available(copy: Copy) -> None:
    # pg_available_extensions has no such entry: the same code path as a server without contrib.
    (result,) = run_checks(copy.connect(), [CheckSpec(check="amcheck",
                                                      params={"extension": "amcheck_not_on_this_server"})])

    assert result.status == "skipped"
    assert result.detail == SKIPPED_UNAVAILABLE == "skipped: extension unavailable"
    assert not result.passed and not result.failing  # shown as not run; does not fail data_integrity


def test_amcheck_limits_the_number_of_indexes_checked(copy: Copy) -> None:
    (result,) = run_checks(copy.connect(), [CheckSpec(check="amcheck", params={"max_indexes": 2})])

    assert result.status == "passed"
    assert result.detail.startswith("2 of 18 btree indexes")


# -- isolation and timeouts -----------------------------------------------------------------------------

class _SleepsPastTimeout(IntegrityCheck):
    """Test-only check whose statement outlives the timeout (no savepoint, so the transaction aborts).

    Example::

        {"check": "test_sleeps_past_timeout"}
    """

    name = "test_sleeps_past_timeout"
    Params = CheckParams

    def run(self, conn: Any, params: CheckParams, context: CheckContext) -> CheckResult:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_sleep(5)")
        return self.result("passed", "unreachable")


def test_statement_timeout_in_one_check_is_an_error_and_the_next_check_still_runs(
        copy: Copy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CHECKS, _SleepsPastTimeout.name, _SleepsPastTimeout)
    specs = [CheckSpec(check=_SleepsPastTimeout.name),
             CheckSpec(check="critical_tables_non_empty", params={"tables": ["customers"]})]

    slow, after = run_checks(copy.connect(), specs, CheckContext(statement_timeout_ms=200))

    assert slow.status == "error"
    assert "QueryCanceled" in slow.detail and "statement timeout" in slow.detail
    assert slow.duration_ms < 3000
    assert after.status == "passed"


def test_per_check_timeout_override_applies_to_that_check_only(copy: Copy) -> None:
    sleepy = {"name": "sleepy", "sql": "SELECT pg_sleep(1)", "expect": "some_rows"}
    specs = [CheckSpec(check="user_sql", params={"queries": [sleepy]}, statement_timeout_ms=100),
             CheckSpec(check="user_sql", params={"queries": [sleepy]})]

    short, default = run_checks(copy.connect(), specs, CheckContext(statement_timeout_ms=5000))

    assert short.status == "error" and "statement timeout" in short.detail
    assert default.status == "passed"


def test_a_broken_spec_becomes_an_error_result_between_working_checks(copy: Copy) -> None:
    results = run_checks(copy.connect(), [
        {"check": "critical_tables_non_empty", "params": {"tables": ["users"]}},
        {"check": "no_such_check"},
        {"check": "foreign_key_orphans", "params": {"max_examples": "many"}},
        {"check": "sequences_not_behind"},
    ])

    assert [r.status for r in results] == ["passed", "error", "error", "passed"]


# -- checks that have never seen the schema ---------------------------------------------------------------

_BILLING = """
CREATE SCHEMA billing;
CREATE TABLE billing.accounts (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, region text NOT NULL, UNIQUE (region, id));
CREATE TABLE billing.invoices (
    number serial PRIMARY KEY, account_region text, account_id integer, total numeric(10, 2),
    FOREIGN KEY (account_region, account_id) REFERENCES billing.accounts (region, id));
INSERT INTO billing.accounts (region) SELECT (ARRAY['eu', 'us'])[1 + g % 2] FROM generate_series(1, 10) g;
INSERT INTO billing.invoices (account_region, account_id, total)
SELECT a.region, a.id, 9.99 FROM billing.accounts a;
SET session_replication_role = replica;
-- counted: both FK columns set, no such account
INSERT INTO billing.invoices (account_region, account_id, total) VALUES ('eu', 999, 1), ('us', 2, 1);
-- not counted under MATCH SIMPLE: one FK column is NULL
INSERT INTO billing.invoices (account_region, account_id, total) VALUES (NULL, 999, 1);
SELECT setval(pg_get_serial_sequence('billing.invoices', 'number'), 3);
"""


def test_checks_discover_foreign_keys_and_sequences_in_a_schema_they_have_never_seen(copy: Copy) -> None:
    _execute(copy.dsn, _BILLING)

    fk, fk_billing_only, seqs = run_checks(copy.connect(), [
        CheckSpec(check="foreign_key_orphans"),
        CheckSpec(check="foreign_key_orphans", params={"schemas": ["billing"], "max_examples": 1}),
        CheckSpec(check="sequences_not_behind"),
    ])

    assert fk.status == "failed"
    (finding,) = fk.findings  # the seeded public schema is clean
    assert finding["table"] == "billing.invoices"
    assert finding["columns"] == ["account_region", "account_id"]
    assert finding["orphans"] == 2  # 'us'/2 is orphaned because account 2 is in 'eu'; NULL row skipped
    assert len(fk_billing_only.findings[0]["examples"]) == 1
    (seq,) = seqs.findings
    assert seq == {"table": "billing.invoices", "column": "number", "sequence": "billing.invoices_number_seq",
                   "last_value": 3, "is_called": True, "max": 13, "linked_by": ["default", "owned"]}


def test_identity_column_sequence_behind_is_found(copy: Copy) -> None:
    # organizations.id is GENERATED ALWAYS AS IDENTITY: its sequence is attached with deptype 'i'.
    _execute(copy.dsn, "SELECT setval(pg_get_serial_sequence('public.organizations', 'id'), 10, false)")

    (result,) = run_checks(copy.connect(), [CheckSpec(check="sequences_not_behind")])

    (finding,) = result.findings
    assert finding["table"] == "public.organizations" and finding["max"] == 50
    assert finding["last_value"] == 10 and finding["is_called"] is False


def test_sequence_exactly_at_max_but_not_called_is_behind(copy: Copy) -> None:
    # is_called = false means nextval() returns last_value itself, which already exists.
    _execute(copy.dsn, "SELECT setval(pg_get_serial_sequence('public.users', 'id'), 1000, false)")

    (result,) = run_checks(copy.connect(), [CheckSpec(check="sequences_not_behind")])

    assert result.status == "failed" and result.findings[0]["table"] == "public.users"


_WEIRD = '''
CREATE SCHEMA "Odd ""Schema""";
CREATE TABLE "Odd ""Schema"""."Parent Table" ("Key ID" integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);
CREATE TABLE "Odd ""Schema"""."child); DROP TABLE canary; --" (
    "ID" bigserial PRIMARY KEY,
    "Parent ""Ref""" integer REFERENCES "Odd ""Schema"""."Parent Table" ("Key ID"));
CREATE TABLE canary (id int);
INSERT INTO "Odd ""Schema"""."Parent Table" DEFAULT VALUES;
INSERT INTO "Odd ""Schema"""."child); DROP TABLE canary; --" ("Parent ""Ref""") VALUES (1), (1);
SET session_replication_role = replica;
INSERT INTO "Odd ""Schema"""."child); DROP TABLE canary; --" ("ID", "Parent ""Ref""") VALUES (50, 77);
'''


def test_identifiers_with_quotes_uppercase_spaces_and_sql_are_quoted_safely(copy: Copy) -> None:
    _execute(copy.dsn, _WEIRD)
    conn = copy.connect()
    schema, child = 'Odd "Schema"', "child); DROP TABLE canary; --"
    baseline = capture_baseline(conn)
    assert baseline[f"{schema}.{child}"] == 3

    results = _by_name(run_checks(conn, [
        CheckSpec(check="critical_tables_non_empty", params={"schema": schema, "tables": ["Parent Table", child]}),
        CheckSpec(check="foreign_key_orphans", params={"schemas": [schema]}),
        CheckSpec(check="sequences_not_behind"),
        CheckSpec(check="row_counts_vs_baseline"),
        CheckSpec(check="amcheck"),
    ], CheckContext(baseline=baseline)))

    assert results["critical_tables_non_empty"].status == "passed"
    orphans = results["foreign_key_orphans"]
    assert orphans.status == "failed" and orphans.findings[0]["table"] == f"{schema}.{child}"
    assert orphans.findings[0]["examples"] == [{'Parent "Ref"': 77}]
    behind = results["sequences_not_behind"]
    assert behind.status == "failed"
    assert behind.findings[0]["column"] == "ID" and behind.findings[0]["max"] == 50
    assert results["row_counts_vs_baseline"].status == "passed"
    assert results["amcheck"].status == "passed"
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('public.canary') IS NOT NULL")
        assert cur.fetchone()[0], "an identifier was executed as SQL"


# -- individual checks ---------------------------------------------------------------------------------

def test_critical_tables_missing_and_empty_are_both_named(copy: Copy) -> None:
    _execute(copy.dsn, "CREATE TABLE public.audit_log (id int)")

    (result,) = run_checks(copy.connect(), [CheckSpec(
        check="critical_tables_non_empty", params={"tables": ["users", "invoices", "audit_log"]})])

    assert result.status == "failed"
    assert result.findings == [{"table": "public.invoices", "problem": "missing"},
                               {"table": "public.audit_log", "problem": "empty"}]
    assert "public.invoices is missing" in result.detail and "public.audit_log is empty" in result.detail


def test_row_counts_without_baseline_are_not_applicable_with_a_reason(copy: Copy) -> None:
    (result,) = run_checks(copy.connect(), [CheckSpec(check="row_counts_vs_baseline")], CheckContext())

    assert result.status == "not_applicable" and "no baseline" in result.detail


def test_row_counts_report_both_numbers_and_treat_new_tables_as_information(copy: Copy, seeded: Seeded) -> None:
    _execute(copy.dsn, "INSERT INTO public.users (org_id, email, role) "
                       "SELECT 1, 'extra' || g || '@org1.example', 'viewer' FROM generate_series(1, 100) g; "
                       "CREATE TABLE public.feature_flags (id int)")
    conn = copy.connect()

    strict, loose = run_checks(conn, [
        CheckSpec(check="row_counts_vs_baseline", params={"tolerance_pct": 1.0}),
        CheckSpec(check="row_counts_vs_baseline", params={"tolerance_pct": 50.0}),
    ], CheckContext(baseline=seeded.baseline))

    assert strict.status == "failed"
    assert "public.users has 1100 rows, baseline 1000 (tolerance 1.0%)" in strict.detail
    assert {"table": "public.users", "problem": "count_mismatch", "expected": 1000, "actual": 1100,
            "diff_pct": 10.0} in strict.findings
    assert "feature_flags" not in strict.detail
    assert {"table": "public.feature_flags", "problem": "new_table", "info": True} in strict.findings
    assert loose.status == "passed" and "1 new table" in loose.detail


def test_user_sql_expectations(copy: Copy) -> None:
    queries = [
        {"name": "no future predictions", "sql": "SELECT id FROM predictions WHERE predicted_at > now()",
         "expect": "no_rows"},
        {"name": "has enterprise orgs", "sql": "SELECT 1 FROM organizations WHERE plan = 'enterprise'",
         "expect": "some_rows"},
        {"name": "fifty orgs", "sql": "SELECT count(*) FROM organizations", "expect": {"op": "==", "value": 50}},
        {"name": "too many orgs", "sql": "SELECT count(*) FROM organizations", "expect": {"op": ">", "value": 50}},
        {"name": "not a scalar", "sql": "SELECT id FROM organizations", "expect": {"op": ">=", "value": 1}},
    ]

    (result,) = run_checks(copy.connect(), [CheckSpec(check="user_sql", params={"queries": queries})])

    outcomes = {f["query"]: f["outcome"] for f in result.findings}
    assert outcomes == {"no future predictions": "passed", "has enterprise orgs": "passed",
                        "fifty orgs": "passed", "too many orgs": "failed", "not a scalar": "failed"}
    assert result.status == "failed"
    assert "too many orgs: 50 > 50 is false" in result.detail


def test_user_sql_runs_read_only_and_one_bad_query_does_not_stop_the_others(copy: Copy) -> None:
    queries = [
        {"name": "sneaky write", "sql": "DELETE FROM predictions", "expect": "no_rows"},
        {"name": "still runs", "sql": "SELECT count(*) FROM predictions", "expect": {"op": "==", "value": 20000}},
    ]

    (result,) = run_checks(copy.connect(), [CheckSpec(check="user_sql", params={"queries": queries})])

    assert result.status == "error"
    write, after = result.findings
    assert write["outcome"] == "error" and "read-only transaction" in write["error"]
    assert after["outcome"] == "passed"


def test_critical_tables_default_to_the_tables_the_baseline_saw_with_rows(copy: Copy) -> None:
    _execute(copy.dsn, "CREATE TABLE public.ledger (id int); INSERT INTO public.ledger VALUES (1);"
                       "CREATE TABLE public.scratch (id int)")
    baseline = {"public.ledger": 1, "public.scratch": 0}
    critical = [CheckSpec(check="critical_tables_non_empty")]
    (healthy,) = run_checks(copy.connect(), critical, CheckContext(baseline=baseline))
    assert healthy.status == "passed" and "1 critical tables" in healthy.detail
    _execute(copy.dsn, "DELETE FROM public.ledger")
    (emptied,) = run_checks(copy.connect(), critical, CheckContext(baseline=baseline))
    assert emptied.status == "failed" and emptied.findings == [{"table": "public.ledger", "problem": "empty"}]
    (unknown,) = run_checks(copy.connect(), [CheckSpec(check="critical_tables_non_empty")], CheckContext())
    assert unknown.status == "not_applicable" and not unknown.passed


# -- schemas as they exist in the wild --------------------------------------------------------------------

_DEFAULT_ONLY_SEQUENCE = """
CREATE SCHEMA legacy;
-- A sequence that no column OWNS: the only link is the column default (pre-serial schemas, ORM migrations).
CREATE SEQUENCE legacy.ticket_ids;
CREATE TABLE legacy.tickets (id bigint PRIMARY KEY DEFAULT nextval('legacy.ticket_ids'), subject text);
INSERT INTO legacy.tickets (subject) SELECT 'ticket ' || g FROM generate_series(1, 40) g;
-- Two tables sharing one sequence: it must be ahead of both columns.
CREATE TABLE legacy.archived_tickets (id bigint PRIMARY KEY DEFAULT nextval('legacy.ticket_ids'), subject text);
INSERT INTO legacy.archived_tickets (id, subject) VALUES (500, 'imported');
-- A partitioned table whose partitions inherit the default: checked once, through the parent.
CREATE SEQUENCE legacy.event_ids;
CREATE TABLE legacy.events (id bigint NOT NULL DEFAULT nextval('legacy.event_ids'), at date NOT NULL)
    PARTITION BY RANGE (at);
CREATE TABLE legacy.events_2026 PARTITION OF legacy.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO legacy.events (at) SELECT '2026-06-01' FROM generate_series(1, 30);
SELECT setval('legacy.event_ids', 5);
"""


def test_sequence_linked_only_by_a_column_default_is_found_when_behind(copy: Copy) -> None:
    _execute(copy.dsn, _DEFAULT_ONLY_SEQUENCE)

    (result,) = run_checks(copy.connect(), [CheckSpec(check="sequences_not_behind")])

    assert result.status == "failed", result.detail
    behind = {(f["table"], f["sequence"]): f for f in result.findings if not f.get("info")}
    # ticket_ids is at 40: behind the shared archive table's 500, ahead of legacy.tickets' own 40.
    assert set(behind) == {("legacy.archived_tickets", "legacy.ticket_ids"), ("legacy.events", "legacy.event_ids")}
    assert behind[("legacy.archived_tickets", "legacy.ticket_ids")]["max"] == 500
    assert behind[("legacy.events", "legacy.event_ids")]["linked_by"] == ["default"]
    assert "legacy.archived_tickets" in result.detail and "legacy.events_2026" not in result.detail


def test_serial_columns_linked_by_ownership_and_default_are_checked_once(copy: Copy) -> None:
    corrupt(copy.dsn, "sequence_behind")  # users.id is bigserial: OWNED BY and DEFAULT nextval(...)

    (result,) = run_checks(copy.connect(), [CheckSpec(check="sequences_not_behind")])

    (finding,) = result.findings
    assert finding["table"] == "public.users" and finding["linked_by"] == ["default", "owned"]
    # 2 identity columns + 3 bigserial columns, each counted once.
    assert "5 sequences" in result.detail


def test_not_valid_foreign_keys_are_checked_and_reported_as_not_validated(copy: Copy) -> None:
    _execute(copy.dsn, "CREATE TABLE public.notes (id int PRIMARY KEY, customer_id bigint); "
                       "INSERT INTO public.notes VALUES (1, 1), (2, 987654321); "
                       "ALTER TABLE public.notes ADD CONSTRAINT notes_customer_fkey FOREIGN KEY (customer_id) "
                       "REFERENCES public.customers (id) NOT VALID")

    (result,) = run_checks(copy.connect(), [CheckSpec(check="foreign_key_orphans")])

    assert result.status == "failed" and "public.notes" in result.detail
    (finding,) = result.findings
    assert finding["constraint"] == "notes_customer_fkey" and finding["validated"] is False
    assert finding["examples"] == [{"customer_id": 987654321}]


# -- nothing to check is not a pass -----------------------------------------------------------------------

@pytest.fixture
def empty_db(pg: EmbeddedPostgres):
    name = f"empty_{uuid.uuid4().hex[:10]}"
    dsn = pg.create_database(name)
    conn = psycopg2.connect(dsn)
    yield Copy(dsn, lambda: conn)
    conn.close()
    admin = psycopg2.connect(pg.dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def test_a_database_with_nothing_to_check_gets_not_applicable_with_reasons(empty_db: Copy) -> None:
    _execute(empty_db.dsn, "CREATE TABLE public.scratch (note text)")  # no key, no sequence, no index
    results = _by_name(run_checks(empty_db.connect(), [
        CheckSpec(check="critical_tables_non_empty"), CheckSpec(check="foreign_key_orphans"),
        CheckSpec(check="sequences_not_behind"), CheckSpec(check="row_counts_vs_baseline"),
        CheckSpec(check="amcheck")], CheckContext()))

    assert {n: r.status for n, r in results.items()} == {n: "not_applicable" for n in results}
    assert "no foreign keys" in results["foreign_key_orphans"].detail
    assert "no sequences" in results["sequences_not_behind"].detail
    assert "no baseline" in results["row_counts_vs_baseline"].detail
    assert "no btree indexes" in results["amcheck"].detail
    assert "no baseline" in results["critical_tables_non_empty"].detail
    assert not any(r.passed or r.failing for r in results.values())


def test_critical_tables_derived_from_a_baseline_without_rows_is_not_applicable(empty_db: Copy) -> None:
    _execute(empty_db.dsn, "CREATE TABLE public.scratch (note text)")

    (result,) = run_checks(empty_db.connect(), [CheckSpec(check="critical_tables_non_empty")],
                           CheckContext(baseline={"public.scratch": 0}))

    assert result.status == "not_applicable" and "no table with rows" in result.detail


def test_foreign_keys_of_a_schema_filter_that_matches_nothing_are_not_applicable(copy: Copy) -> None:
    (result,) = run_checks(copy.connect(), [CheckSpec(check="foreign_key_orphans", params={"schemas": ["nope"]})])

    assert result.status == "not_applicable" and "nope" in result.detail
