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
        "public.subscriptions": 5000, "public.predictions": 20000, "public.usage_events": 20000}


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


# -- the index proof on a copy ---------------------------------------------------------------------------------

PROOF_SOURCE = "proof_source"


@pytest.fixture(scope="module")
def proof_source(pg: EmbeddedPostgres) -> str:
    """A source database with a 20k-row table and no index on (org_id, kind): a seq scan the index fixes."""
    source = pg.create_database(PROOF_SOURCE)
    connection = psycopg2.connect(source)
    connection.autocommit = True
    with connection.cursor() as cur:
        cur.execute("CREATE TABLE proof_events (id bigserial PRIMARY KEY, org_id int NOT NULL, kind text NOT NULL, "
                    "payload text)")
        cur.execute("INSERT INTO proof_events (org_id, kind, payload) SELECT g % 200, 'k' || (g % 7), "
                    "repeat('x', 50) FROM generate_series(1, 20000) g")
    connection.close()
    return source


@pytest.fixture
def proof_copy(pg: EmbeddedPostgres, proof_source: str):
    name = f"proof_copy_{uuid.uuid4().hex[:10]}"
    yield name
    admin = psycopg2.connect(pg.dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin.close()


def _proposals(*statements: dict[str, Any]) -> dict[str, Any]:
    events = [{"position": 1, "schema": "public", "table": "proof_events", "column": "org_id"},
              {"position": 2, "schema": "public", "table": "proof_events", "column": "kind"}]
    return {"schema_version": 1, "db_instance_id": "churnguard-prod", "proposals": [{
        "id": "missing_index:public.proof_events:org_id,kind", "schema": "public", "table": "proof_events",
        "columns": ["org_id", "kind"], "statements": [{**s, "parameters": s.get("parameters", events)}
                                                      for s in statements],
        "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS proof_events_org_id_kind_idx ON public.proof_events "
               "USING btree (org_id, kind);"}]}


def _proof_stage(pg: EmbeddedPostgres, copy: str, document: dict[str, Any], **settings: Any):
    """The stage as the ProveIndexes handler runs it: guarded endpoints (source and copy are databases of the
    same server here, as in the embedded default), credentials, the proposals document in the ops bucket."""
    from dataclasses import replace

    from churnguard_ops.core.fakes import MemoryDocuments
    from churnguard_ops.drill.model import DrillState
    from churnguard_ops.drill.proposals import proposals_key
    from churnguard_ops.drill.settings import DrillSettings
    from churnguard_ops.drill.validation import DrillValidator
    from churnguard_ops.drill.workflow import DrillWorkflow
    from tests.unit.drill_fakes import T0, FakeDrillRds, execution, source_instance

    class Credentials:
        def get(self, secret_id: str) -> dict[str, Any]:
            return {"username": pg.superuser, "password": "", "dbname": PROOF_SOURCE}

    config = DrillSettings(db_instance_ids=["churnguard-prod"], db_secrets={"churnguard-prod": "secret"},
                           db_sslmode="disable", db_sslrootcert=None, **settings)
    rds = FakeDrillRds()
    rds.add_instance(replace(source_instance(), address=pg.host, port=pg.port, db_name=PROOF_SOURCE))
    rds.add_snapshot("snap", "churnguard-prod", T0)
    workflow = DrillWorkflow(config, lambda region: rds, "us-east-1", clock=lambda: T0)
    state = DrillState.model_validate({"poll_seconds": 1})
    state.plan = workflow.plan(state, execution("proof"))
    state.restore = workflow.restore(state)
    restored = rds.instance(state.restore.instance_id)
    rds.add_instance(replace(restored, status="available", address=pg.host, port=pg.port, db_name=copy))
    documents = MemoryDocuments()
    documents.save(proposals_key("churnguard-prod"), document)
    return DrillValidator(config, lambda region: rds, "us-east-1", Credentials(), documents,
                          clock=lambda: T0).prove_indexes(state)


def _indexes(dsn: str) -> set[str]:
    connection = psycopg2.connect(dsn)
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'proof_events'")
            return {row[0] for row in cur.fetchall()}
    finally:
        connection.close()


COUNT_BY_ORG_AND_KIND = {"queryid": "1", "calls": 120,
                         "text": "SELECT count(*) FROM proof_events WHERE org_id = $1 AND kind = $2"}


def test_the_proof_creates_the_index_on_the_copy_only_measures_a_speedup_and_drops_it(
        pg: EmbeddedPostgres, proof_source: str, proof_copy: str) -> None:
    copy = pg.create_database(proof_copy, template=PROOF_SOURCE)
    source_before = _indexes(proof_source)

    latest = {"text": "SELECT id FROM proof_events WHERE org_id = $1 AND kind = $2 ORDER BY id DESC LIMIT $3"}
    result = _proof_stage(pg, proof_copy, _proposals(
        COUNT_BY_ORG_AND_KIND, {"text": "UPDATE proof_events SET kind = $2 WHERE org_id = $1"}, latest))

    assert result["status"] == "proven", result
    (proposal,) = result["proposals"]
    assert proposal["status"] == "proven" and proposal["speedup"] > 1, proposal
    assert proposal["before_ms"] > proposal["after_ms"] > 0
    replayed, refused, paged = proposal["statements"]
    assert replayed["before_plan"] == ["Seq Scan on proof_events"]
    # The plan on the copy used the proof index, so it existed there; pg_relation_size measured it there.
    assert replayed["uses_index"] and any(proposal["index_name"] in node for node in replayed["after_plan"])
    assert proposal["uses_index"] and proposal["index_bytes"] > 8192
    assert replayed["bound"] == ["$1 -> public.proof_events.org_id", "$2 -> public.proof_events.kind"]
    assert not refused["replayed"] and refused["reason"].startswith("not a SELECT")
    assert paged["replayed"] and paged["bound"][2].startswith("$3 -> LIMIT 50 (stand-in")
    assert proposal["dropped"] is True and _indexes(copy) == {"proof_events_pkey"}  # left as it was found
    assert _indexes(proof_source) == source_before == {"proof_events_pkey"}  # the source never had it


def test_a_statement_that_times_out_is_recorded_and_the_proof_index_is_still_dropped(
        pg: EmbeddedPostgres, proof_source: str, proof_copy: str) -> None:
    copy = pg.create_database(proof_copy, template=PROOF_SOURCE)
    slow = {"text": "SELECT pg_sleep(0.3), count(*) FROM proof_events WHERE org_id = $1 AND kind = $2"}

    result = _proof_stage(pg, proof_copy, _proposals(slow), statement_timeout_ms=100)

    (proposal,) = result["proposals"]
    assert proposal["status"] == "not_replayed"
    (statement,) = proposal["statements"]
    assert statement["reason"].startswith("before the index: QueryCanceled") and "statement timeout" in \
        statement["reason"]
    assert proposal["dropped"] is True and _indexes(copy) == {"proof_events_pkey"}


def test_a_proposal_the_copy_already_has_an_index_for_is_not_built_again(
        pg: EmbeddedPostgres, proof_source: str, proof_copy: str) -> None:
    copy = pg.create_database(proof_copy, template=PROOF_SOURCE)
    connection = psycopg2.connect(copy)
    connection.autocommit = True
    with connection.cursor() as cur:
        cur.execute("CREATE INDEX applied_since ON proof_events (org_id, kind, id)")
    connection.close()

    result = _proof_stage(pg, proof_copy, _proposals(COUNT_BY_ORG_AND_KIND))

    (proposal,) = result["proposals"]
    assert proposal["status"] == "already_indexed" and "applied_since" in proposal["detail"]
    assert _indexes(copy) == {"proof_events_pkey", "applied_since"}
