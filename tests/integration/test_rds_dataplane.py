"""The RDS data plane: moto's RDS instances served by the embedded PostgreSQL, over HTTP.

Only EmbeddedAws is used (a ``mock_aws`` context in this process would bypass the HTTP server
and with it the middleware). Callers here behave like the runtime code: RDS API calls, then
psycopg2 to the Endpoint and DBName that DescribeDBInstances returns.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2  # noqa: E402  (a hard dependency: missing it must fail, not skip)
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from opsctl.local.aws import EmbeddedAws
from opsctl.local.faults import Fault
from opsctl.local.postgres import EmbeddedPostgres
from opsctl.local.rds_dataplane import RdsDataPlane, credential_scope

pytestmark = pytest.mark.integration

SEED_ROWS = 5000
MASTER = "churnguard"
DR = "us-west-2"


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    # Under /tmp, not pytest's tmp_path: the server runs as `postgres` and must traverse it.
    state = Path(tempfile.mkdtemp(prefix="rds-dataplane-", dir="/tmp"))
    state.chmod(0o755)
    try:
        with EmbeddedPostgres(state) as server:
            yield server
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def aws(pg: EmbeddedPostgres) -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as embedded:
        embedded.attach_postgres(pg)  # after start(): spliced into the running chain
        yield embedded


@pytest.fixture(autouse=True)
def clean(aws: EmbeddedAws) -> Iterator[None]:
    aws.reset()
    yield
    aws.reset()


@pytest.fixture
def plane(aws: EmbeddedAws) -> RdsDataPlane:
    assert aws.rds_dataplane is not None
    return aws.rds_dataplane


@pytest.fixture
def source_db(pg: EmbeddedPostgres) -> Iterator[str]:
    """A small "production" database: customers(id, email, churn_score) with SEED_ROWS rows."""
    name = f"seed_{uuid.uuid4().hex[:8]}"
    pg.create_database(name)
    with psycopg2.connect(pg.dsn(name)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, churn_score numeric)")
        cur.execute(
            "INSERT INTO customers SELECT g, 'c' || g || '@example.com', (g %% 100) / 100.0 "
            "FROM generate_series(1, %s) g",
            (SEED_ROWS,),
        )
        cur.execute("CREATE INDEX customers_score ON customers (churn_score)")
    conn.close()
    yield name
    _drop(pg, name)


def _drop(pg: EmbeddedPostgres, name: str) -> None:
    conn = psycopg2.connect(pg.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(psycopg2.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg2.sql.Identifier(name)))
    conn.close()


def _databases(pg: EmbeddedPostgres) -> set[str]:
    with psycopg2.connect(pg.dsn()) as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        rows = {r[0] for r in cur.fetchall()}
    conn.close()
    return rows


def _create_instance(rds: Any, instance_id: str) -> dict[str, Any]:
    return rds.create_db_instance(
        DBInstanceIdentifier=instance_id, Engine="postgres", EngineVersion="15.8", DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername=MASTER, MasterUserPassword="local-only-pg-password",
    )["DBInstance"]


def _insert_later_rows(pg: EmbeddedPostgres, database: str, count: int = 7) -> None:
    with psycopg2.connect(pg.dsn(database)) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO customers SELECT g, 'late' || g || '@example.com', 0.99 "
            "FROM generate_series(%s, %s) g",
            (SEED_ROWS + 1, SEED_ROWS + count),
        )
    conn.close()


def _connect_like_the_runtime(rds: Any, instance_id: str) -> Any:
    """What the drill's validate step does: Describe, then psycopg2 to Endpoint + DBName."""
    raw = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    return psycopg2.connect(
        host=raw["Endpoint"]["Address"], port=raw["Endpoint"]["Port"], dbname=raw["DBName"],
        user=raw["MasterUsername"], password="local-only-pg-password", connect_timeout=5,
    )


def _customer_rows(conn: Any) -> tuple[int, int]:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(*) FILTER (WHERE email LIKE 'late%%') FROM customers")
        total, late = cur.fetchone()
    conn.close()
    return total, late


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------
def test_middleware_sits_inside_fault_injection_and_in_front_of_lambda_dispatch(aws: EmbeddedAws) -> None:
    assert aws.faults is not None and aws.faults.app is aws.rds_dataplane
    assert type(aws.rds_dataplane.app).__name__ == "LambdaInvokeMiddleware"


def test_credential_scope_reads_region_and_service_from_sigv4() -> None:
    auth = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/rds/aws4_request, SignedHeaders=host, Signature=x"
    assert credential_scope({"HTTP_AUTHORIZATION": auth}) == ("us-west-2", "rds")
    assert credential_scope({}) == ("", "")


def test_restore_from_snapshot_serves_the_snapshot_time_data_not_rows_written_later(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="nightly")
    _insert_later_rows(pg, source_db)

    restored = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="drill-1", DBSnapshotIdentifier="nightly", DBInstanceClass="db.t3.micro"
    )["DBInstance"]

    assert restored["Endpoint"] == {"Address": "127.0.0.1", "Port": pg.port}
    assert restored["DBName"] == plane.database_for_instance("drill-1")
    assert _customer_rows(_connect_like_the_runtime(rds, "drill-1")) == (SEED_ROWS, 0)
    assert _customer_rows(_connect_like_the_runtime(rds, "prod")) == (SEED_ROWS + 7, 7)
    kinds = [(m.kind, m.method) for m in plane.materializations]
    assert kinds == [("snapshot", "template"), ("restore", "template")]


def test_snapshot_of_a_source_with_connected_sessions_falls_back_to_pg_dump_and_is_point_in_time(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    app_session = psycopg2.connect(pg.dsn(source_db))  # the application is connected, as in prod
    try:
        rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="busy")
        with app_session.cursor() as cur:  # written after the snapshot, by the connected session
            cur.execute("INSERT INTO customers VALUES (999999, 'late-busy@example.com', 0.5)")
        app_session.commit()
    finally:
        app_session.close()
    snapshot = plane.materializations[-1]
    assert (snapshot.kind, snapshot.method) == ("snapshot", "dump_restore")
    assert snapshot.template_error and "session" in snapshot.template_error

    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="drill-busy", DBSnapshotIdentifier="busy")
    assert _customer_rows(_connect_like_the_runtime(rds, "drill-busy")) == (SEED_ROWS, 0)
    # Indexes came along too (pg_restore recreates them).
    with _connect_like_the_runtime(rds, "drill-busy") as conn, conn.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers' ORDER BY 1")
        assert [r[0] for r in cur.fetchall()] == ["customers_pkey", "customers_score"]
    conn.close()


def test_dump_fallback_keeps_rows_that_violate_a_foreign_key_as_a_block_copy_would(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    with psycopg2.connect(pg.dsn(source_db)) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE churn_events (id int PRIMARY KEY, customer_id int REFERENCES customers (id)); "
                    "INSERT INTO churn_events VALUES (1, 1); SET session_replication_role = replica; "
                    "INSERT INTO churn_events VALUES (2, 987654)")  # an orphan behind a validated FK
    conn.close()
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    app_session = psycopg2.connect(pg.dsn(source_db))  # connected: TEMPLATE is refused, the dump path runs
    try:
        rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="with-orphans")
    finally:
        app_session.close()
    snapshot = plane.materializations[-1]
    assert snapshot.method == "dump_restore"
    assert snapshot.not_valid_foreign_keys == ("public.churn_events.churn_events_customer_id_fkey",)

    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="drill-orphans", DBSnapshotIdentifier="with-orphans")
    with _connect_like_the_runtime(rds, "drill-orphans") as conn, conn.cursor() as cur:
        cur.execute("SELECT customer_id FROM churn_events ch WHERE NOT EXISTS "
                    "(SELECT 1 FROM customers c WHERE c.id = ch.customer_id)")
        assert cur.fetchall() == [(987654,)]
        cur.execute("SELECT conname FROM pg_constraint WHERE contype = 'f'")
        assert cur.fetchall() == [("churn_events_customer_id_fkey",)]
    conn.close()


def test_snapshot_databases_refuse_connections_so_they_stay_immutable(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="sealed")
    database = plane.database_for_snapshot("sealed")
    assert database is not None and database.startswith("snap_")
    with pytest.raises(psycopg2.OperationalError, match="not currently accepting connections"):
        psycopg2.connect(pg.dsn(database))


def test_delete_instance_drops_its_database_and_delete_snapshot_drops_the_snapshot_database(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="s1")
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="drill-del", DBSnapshotIdentifier="s1")
    instance_db = plane.database_for_instance("drill-del")
    snapshot_db = plane.database_for_snapshot("s1")
    assert {instance_db, snapshot_db} <= _databases(pg)
    holder = _connect_like_the_runtime(rds, "drill-del")  # a forgotten session must not block cleanup

    rds.delete_db_instance(DBInstanceIdentifier="drill-del", SkipFinalSnapshot=True)
    assert instance_db not in _databases(pg)
    assert plane.database_for_instance("drill-del") is None
    holder.close()

    rds.delete_db_snapshot(DBSnapshotIdentifier="s1")
    assert snapshot_db not in _databases(pg)
    assert source_db in _databases(pg)  # the source is untouched


def test_delete_instance_with_a_final_snapshot_keeps_its_data_as_that_snapshot(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="s-final-src")
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="short-lived", DBSnapshotIdentifier="s-final-src")
    rds.delete_db_instance(DBInstanceIdentifier="short-lived", FinalDBSnapshotIdentifier="short-lived-final")
    assert plane.materializations[-1].method == "rename"
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="revived", DBSnapshotIdentifier="short-lived-final")
    assert _customer_rows(_connect_like_the_runtime(rds, "revived")) == (SEED_ROWS, 0)


def test_cross_region_copy_then_restore_in_the_dr_region_serves_the_snapshot_data(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds, dr = aws.client("rds"), aws.client("rds", DR)
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    created = rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="to-dr")
    arn = created["DBSnapshot"]["DBSnapshotArn"]
    _insert_later_rows(pg, source_db)

    dr.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="to-dr-copy",
                        SourceRegion="us-east-1")
    shared = plane.database_for_snapshot("to-dr", "us-east-1")
    assert plane.database_for_snapshot("to-dr-copy", DR) == shared  # a shared, immutable reference

    restored = dr.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="drill-dr", DBSnapshotIdentifier="to-dr-copy")["DBInstance"]
    assert restored["Endpoint"]["Address"] == "127.0.0.1"
    assert plane.database_for_instance("drill-dr", DR) is not None
    assert plane.database_for_instance("drill-dr", "us-east-1") is None
    assert _customer_rows(_connect_like_the_runtime(dr, "drill-dr")) == (SEED_ROWS, 0)

    # Deleting the primary snapshot leaves the copy's data; deleting the copy too frees it.
    rds.delete_db_snapshot(DBSnapshotIdentifier="to-dr")
    assert shared in _databases(pg)
    dr.delete_db_snapshot(DBSnapshotIdentifier="to-dr-copy")
    assert shared not in _databases(pg)


def test_point_in_time_restore_copies_the_source_as_of_now(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    _insert_later_rows(pg, source_db, count=3)
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="prod", TargetDBInstanceIdentifier="drill-pitr", UseLatestRestorableTime=True
    )
    assert _customer_rows(_connect_like_the_runtime(rds, "drill-pitr")) == (SEED_ROWS + 3, 3)
    assert plane.materializations[-1].kind == "point_in_time"


def test_snapshot_taken_before_bind_is_adopted_from_the_source_current_data(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="seeded-history")  # unbound: no data
    assert plane.database_for_snapshot("seeded-history") is None
    plane.bind("prod", source_db)
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="drill-old", DBSnapshotIdentifier="seeded-history")
    assert [m.kind for m in plane.materializations] == ["adopted_snapshot", "restore"]
    assert _customer_rows(_connect_like_the_runtime(rds, "drill-old")) == (SEED_ROWS, 0)


def test_unbound_instances_and_their_snapshots_are_untouched(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres
) -> None:
    rds = aws.client("rds")
    before = _databases(pg)
    created = _create_instance(rds, "elsewhere")
    assert created["Endpoint"]["Address"].endswith(".rds.amazonaws.com")
    rds.create_db_snapshot(DBInstanceIdentifier="elsewhere", DBSnapshotIdentifier="elsewhere-snap")
    restored = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="elsewhere-restored", DBSnapshotIdentifier="elsewhere-snap"
    )["DBInstance"]
    described = rds.describe_db_instances()["DBInstances"]
    assert restored["Endpoint"]["Address"].endswith(".rds.amazonaws.com")
    assert all(d["Endpoint"]["Address"].endswith(".rds.amazonaws.com") for d in described)
    assert all(d["Endpoint"]["Port"] == 5432 for d in described)
    assert plane.materializations == [] and _databases(pg) == before


def test_describe_rewrites_only_the_bound_instance_among_several(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    plane.bind("prod", source_db)  # bind before create works too
    assert _create_instance(rds, "prod")["Endpoint"]["Address"] == "127.0.0.1"
    _create_instance(rds, "other")
    by_id = {d["DBInstanceIdentifier"]: d for d in rds.describe_db_instances()["DBInstances"]}
    assert by_id["prod"]["Endpoint"] == {"Address": "127.0.0.1", "Port": pg.port}
    assert by_id["prod"]["DBName"] == source_db
    assert by_id["other"]["Endpoint"]["Address"] == "other.aaaaaaaaaa.us-east-1.rds.amazonaws.com"
    assert by_id["prod"]["DBInstanceArn"].endswith(":db:prod")  # the rest of the document survived
    assert by_id["prod"]["MasterUsername"] == MASTER


def test_fault_injection_still_sees_rds_requests_before_the_data_plane(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = _no_retry_client(aws)
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    assert aws.faults is not None
    aws.faults.add(Fault(operation="rds:CreateDBSnapshot", parameter="DBInstanceIdentifier=prod"))
    with pytest.raises(ClientError) as excinfo:
        rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="throttled")
    assert excinfo.value.response["Error"]["Code"] == "Throttling"
    assert plane.database_for_snapshot("throttled") is None and plane.materializations == []
    assert rds.describe_db_snapshots(DBInstanceIdentifier="prod", SnapshotType="manual")["DBSnapshots"] == []

    aws.faults.clear()
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="throttled")
    assert plane.database_for_snapshot("throttled") is not None


def test_moto_errors_pass_through_without_data_plane_effects(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres
) -> None:
    rds = _no_retry_client(aws)
    with pytest.raises(ClientError) as excinfo:
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="nope", DBSnapshotIdentifier="missing")
    assert excinfo.value.response["Error"]["Code"] == "DBSnapshotNotFound"
    assert plane.materializations == []


def test_reset_drops_materialized_databases_but_not_bound_ones(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="r1")
    made = plane.database_for_snapshot("r1")
    aws.reset()
    assert made not in _databases(pg) and source_db in _databases(pg)
    assert plane.describe() == {"instances": {}, "snapshots": {}}


def _no_retry_client(aws: EmbeddedAws) -> Any:
    import boto3

    return boto3.client("rds", region_name=aws.region, endpoint_url=aws.endpoint_url,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def test_concurrent_restores_from_one_snapshot_each_get_their_own_database(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="shared")

    def restore(n: int) -> tuple[int, int]:
        client = aws.client("rds")  # boto3 clients are not shared across threads
        client.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=f"par-{n}", DBSnapshotIdentifier="shared")
        return _customer_rows(_connect_like_the_runtime(client, f"par-{n}"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(restore, range(4)))
    assert results == [(SEED_ROWS, 0)] * 4
    assert len({plane.database_for_instance(f"par-{n}") for n in range(4)}) == 4


def test_describe_events_logs_a_restores_completion_once_its_data_exists(
    aws: EmbeddedAws, plane: RdsDataPlane, pg: EmbeddedPostgres, source_db: str
) -> None:
    from datetime import datetime, timedelta, timezone

    rds = aws.client("rds")
    _create_instance(rds, "prod")
    plane.bind("prod", source_db)
    rds.create_db_snapshot(DBInstanceIdentifier="prod", DBSnapshotIdentifier="nightly")
    requested = datetime.now(timezone.utc)
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="drill-ev", DBSnapshotIdentifier="nightly")
    rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier="prod", TargetDBInstanceIdentifier="drill-pit",
                                             UseLatestRestorableTime=True)

    events = rds.describe_events(SourceType="db-instance", SourceIdentifier="drill-ev",
                                 StartTime=requested - timedelta(seconds=1))["Events"]
    (restored,) = [e for e in events if e["Message"].startswith("Restored from")]
    assert restored["Message"] == "Restored from snapshot nightly"
    assert restored["SourceArn"].endswith(":db:drill-ev") and restored["EventCategories"] == ["restoration"]
    # Dated when the restored database existed, i.e. after the materialization the request waited for.
    assert requested <= restored["Date"] <= datetime.now(timezone.utc)
    pit = rds.describe_events(SourceType="db-instance", SourceIdentifier="drill-pit")["Events"]
    assert [e["Message"] for e in pit if e["Message"].startswith("Restored from DB instance prod to ")]
    # moto's own events are still there, and the filters apply to the data plane's too.
    assert any(e["Message"] == "DB instance created" for e in events)
    assert not [e for e in rds.describe_events(SourceType="db-instance", SourceIdentifier="drill-ev",
                                               StartTime=requested - timedelta(hours=2),
                                               EndTime=requested - timedelta(hours=1))["Events"]
                if e["Message"].startswith("Restored from")]
    plane.reset()
    assert not [e for e in rds.describe_events(SourceType="db-instance", SourceIdentifier="drill-ev")["Events"]
                if e["Message"].startswith("Restored from")]
