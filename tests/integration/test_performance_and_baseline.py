"""Baseline capture, query timing and the connection helper, on a real PostgreSQL."""
from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import psycopg2  # noqa: E402  (a hard dependency: missing it must fail, not skip)
import pytest
from psycopg2 import sql  # noqa: E402

from churnguard_ops.core import postgres as drill_sql  # noqa: E402
from churnguard_ops.core.row_counts import capture_baseline  # noqa: E402
from churnguard_ops.drill.performance import DEFAULT_QUERIES, QuerySpec, time_queries  # noqa: E402
from opsctl.local.churnguard_schema import seed_churnguard  # noqa: E402
from opsctl.local.postgres import EmbeddedPostgres  # noqa: E402

pytestmark = pytest.mark.integration

TEMPLATE = "churnguard_perf_template"


@pytest.fixture(scope="module")
def pg() -> EmbeddedPostgres:
    # No PostgreSQL is a failure, not a skip: `make setup` installs pgserver where binaries are missing.
    with EmbeddedPostgres() as server:  # default state dir under /tmp, traversable by postgres
        yield server


@pytest.fixture(scope="module")
def seed_counts(pg: EmbeddedPostgres) -> dict[str, int]:
    return seed_churnguard(pg.create_database(TEMPLATE))


@pytest.fixture
def dsn(pg: EmbeddedPostgres, seed_counts: dict[str, int]):
    name = f"copy_{uuid.uuid4().hex[:10]}"
    yield pg.create_database(name, template=TEMPLATE)
    admin = psycopg2.connect(pg.dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


@pytest.fixture
def conn(dsn: str):
    connection = psycopg2.connect(dsn)
    yield connection
    connection.close()


def _scalar(conn: Any, query: str) -> Any:
    with conn.cursor() as cur:
        cur.execute(query)
        value = cur.fetchone()[0]
    conn.rollback()
    return value


# -- baseline ------------------------------------------------------------------------------------------

def test_baseline_counts_every_user_table_exactly_with_schema_qualified_keys(
        conn: Any, seed_counts: dict[str, int]) -> None:
    assert capture_baseline(conn) == seed_counts == {
        "public.organizations": 50, "public.users": 1000, "public.customers": 5000,
        "public.subscriptions": 5000, "public.predictions": 20000}


def test_baseline_uses_the_planner_estimate_above_the_exact_row_limit(conn: Any) -> None:
    with conn.cursor() as cur:  # make the estimate visibly different from the truth
        cur.execute("UPDATE pg_class SET reltuples = 12345 WHERE oid = 'public.predictions'::regclass")
    conn.commit()

    baseline = capture_baseline(conn, exact_row_limit=10_000)

    assert baseline["public.predictions"] == 12345  # estimate: 20000 rows is above the limit
    assert baseline["public.customers"] == 5000     # exact: below the limit


def test_baseline_counts_exactly_when_a_table_was_never_analyzed(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE fresh (id int); INSERT INTO fresh SELECT generate_series(1, 7)")
    conn.commit()
    assert _scalar(conn, "SELECT reltuples FROM pg_class WHERE oid = 'fresh'::regclass") == -1

    assert capture_baseline(conn, exact_row_limit=1)["public.fresh"] == 7


def test_baseline_covers_other_schemas_and_skips_system_ones(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute('CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."Deals" (id int); '
                    'INSERT INTO "Sales"."Deals" VALUES (1), (2)')
    conn.commit()

    baseline = capture_baseline(conn)

    assert baseline["Sales.Deals"] == 2
    assert not any(k.startswith(("pg_catalog.", "information_schema.", "pg_toast")) for k in baseline)


def test_baseline_leaves_autocommit_as_it_found_it(conn: Any) -> None:
    conn.autocommit = True
    capture_baseline(conn)
    assert conn.autocommit is True


# -- query timing --------------------------------------------------------------------------------------

def test_default_queries_run_on_the_seeded_schema_within_their_thresholds(conn: Any) -> None:
    timings = time_queries(conn, DEFAULT_QUERIES, repeats=3)

    assert [t.name for t in timings] == [q.name for q in DEFAULT_QUERIES]
    for timing in timings:
        assert timing.error is None, timing
        assert timing.passed
        assert 0 < timing.median_ms <= timing.max_ms
        assert timing.threshold_ms >= 1000  # generous: a cold drill instance is slow, not broken


def test_a_slow_query_fails_its_threshold_without_an_error(conn: Any) -> None:
    (timing,) = time_queries(conn, [QuerySpec(name="sleep", sql="SELECT pg_sleep(0.02)", max_ms=1)], repeats=1)

    assert timing.passed is False and timing.error is None
    assert timing.median_ms >= 20


def test_errors_and_timeouts_are_failed_timings_and_later_queries_still_run(conn: Any) -> None:
    specs = [
        {"name": "typo", "sql": "SELECT * FROM predictionz", "max_ms": 1000},
        {"name": "too slow", "sql": "SELECT pg_sleep(5)", "max_ms": 10000},
        {"name": "write", "sql": "DELETE FROM predictions", "max_ms": 1000},
        {"name": "fine", "sql": "SELECT count(*) FROM users", "max_ms": 1000},
    ]

    typo, slow, write, fine = time_queries(conn, specs, repeats=2, statement_timeout_ms=200)

    assert not typo.passed and "predictionz" in typo.error and typo.median_ms is None
    assert not slow.passed and "statement timeout" in slow.error
    assert not write.passed and "read-only transaction" in write.error
    assert fine.passed and fine.error is None
    assert _scalar(conn, "SELECT count(*) FROM predictions") == 20000


# -- connection helper ---------------------------------------------------------------------------------

def test_connect_sets_the_application_name_and_never_logs_the_password(
        pg: EmbeddedPostgres, dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    dbname = dsn.rsplit("dbname=", 1)[1]

    conn = drill_sql.connect(pg.host, pg.port, "postgres", "hunter2-not-logged", dbname)
    try:
        assert _scalar(conn, "SELECT current_setting('application_name')") == "churnguard-ops-drill"
        assert _scalar(conn, "SELECT current_database()") == dbname
    finally:
        conn.close()
    assert "hunter2" not in caplog.text
    assert f"port={pg.port}" in caplog.text


def test_connect_failure_does_not_echo_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(psycopg2.OperationalError) as raised:
        drill_sql.connect("127.0.0.1", closed_port, "postgres", "hunter2-not-logged", "postgres",
                          connect_timeout=2, sslmode="disable")
    assert "hunter2" not in str(raised.value) and "hunter2" not in caplog.text
