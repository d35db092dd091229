"""Copying a database that already violates its foreign keys: the copy keeps the violations, as an RDS
block copy would, and the drill's FK check finds them. What cannot be copied fails with one clear line."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from churnguard_ops.drill.checks import CheckSpec, run_checks
from opsctl.local.postgres import DatabaseCopyError, EmbeddedPostgres
from opsctl.world import load_source_database

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# A warehouse whose data predates its constraints: one FK added NOT VALID over orphan rows, one FK
# validated long ago whose orphans were bulk-loaded with session_replication_role = replica.
VIOLATING_SOURCE = """
CREATE SCHEMA warehouse;
CREATE TABLE warehouse.depots (id int PRIMARY KEY, city text NOT NULL);
CREATE TABLE warehouse.parcels (id serial PRIMARY KEY, depot_id int, weight_kg numeric(8, 2));
CREATE TABLE warehouse.scans (id bigserial PRIMARY KEY, depot_id int NOT NULL REFERENCES warehouse.depots (id));
INSERT INTO warehouse.depots SELECT g, 'city ' || g FROM generate_series(1, 20) g;
INSERT INTO warehouse.parcels (depot_id, weight_kg) SELECT 1 + g % 20, g / 10.0 FROM generate_series(1, 300) g;
INSERT INTO warehouse.parcels (depot_id, weight_kg) VALUES (404, 1.5), (405, 2.5);
ALTER TABLE warehouse.parcels ADD CONSTRAINT parcels_depot_fkey
    FOREIGN KEY (depot_id) REFERENCES warehouse.depots (id) NOT VALID;
INSERT INTO warehouse.scans (depot_id) SELECT 1 + g % 20 FROM generate_series(1, 100) g;
SET session_replication_role = replica;
INSERT INTO warehouse.scans (depot_id) VALUES (999);
"""


@pytest.fixture(scope="module")
def pg() -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres() as server:
        yield server


@pytest.fixture
def violating_source(pg: EmbeddedPostgres) -> Iterator[str]:
    name = f"src_{uuid.uuid4().hex[:8]}"
    dsn = pg.create_database(name)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(VIOLATING_SOURCE)
    conn.close()
    yield dsn
    _drop(pg, name)


def _drop(pg: EmbeddedPostgres, name: str) -> None:
    conn = psycopg2.connect(pg.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


def _foreign_keys(dsn: str) -> dict[str, bool]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1")
            return dict(cur.fetchall())
    finally:
        conn.close()


def test_a_source_with_orphans_under_not_valid_and_replica_loaded_keys_is_copied_with_its_violations(
        pg: EmbeddedPostgres, violating_source: str) -> None:
    target = f"copy_{uuid.uuid4().hex[:8]}"
    try:
        load_source_database(pg, target, violating_source)

        # Both constraints exist on the copy; the one the rows violate could only be loaded NOT VALID.
        assert _foreign_keys(pg.dsn(target)) == {"parcels_depot_fkey": False, "scans_depot_id_fkey": False}
        conn = psycopg2.connect(pg.dsn(target))
        try:
            (result,) = run_checks(conn, [CheckSpec(check="foreign_key_orphans")])
        finally:
            conn.close()
        assert result.status == "failed"
        orphans = {f["table"]: f["orphans"] for f in result.findings}
        assert orphans == {"warehouse.parcels": 2, "warehouse.scans": 1}
        assert "warehouse.parcels" in result.detail and "warehouse.scans" in result.detail
    finally:
        _drop(pg, target)


def test_a_clean_source_keeps_its_validated_foreign_keys(pg: EmbeddedPostgres) -> None:
    source, target = f"src_{uuid.uuid4().hex[:8]}", f"copy_{uuid.uuid4().hex[:8]}"
    dsn = pg.create_database(source)
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (a_id int REFERENCES a); "
                    "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)")
    conn.close()
    try:
        load_source_database(pg, target, dsn)
        assert _foreign_keys(pg.dsn(target)) == {"b_a_id_fkey": True}
    finally:
        _drop(pg, target)
        _drop(pg, source)


def test_a_copy_that_cannot_be_made_fails_with_one_clear_line(pg: EmbeddedPostgres) -> None:
    target = f"copy_{uuid.uuid4().hex[:8]}"
    try:
        with pytest.raises(DatabaseCopyError) as raised:
            load_source_database(pg, target, pg.dsn("no_such_database"))
    finally:
        _drop(pg, target)

    message = str(raised.value)
    assert "\n" not in message and "CalledProcessError" not in message
    assert message.startswith("could not copy the source database: pg_dump failed: ")
    assert 'database "no_such_database" does not exist' in message


def test_the_local_drill_of_a_source_dsn_with_orphans_fails_naming_the_table(
        violating_source: str, tmp_path: Path) -> None:
    # As an operator runs it, in its own process: its context (schema-agnostic checks) differs from the one
    # other modules deploy in this process, and moto's state and CDK's asset cache are per process.
    done = subprocess.run([sys.executable, "-m", "opsctl", "drill", "run", "--local", "--source-dsn", violating_source,
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)

    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "CalledProcessError" not in done.stderr
    report = json.loads((tmp_path / "drill-report.json").read_text())
    assert report["verdicts"]["data_integrity"] is False and report["verdicts"]["cleaned_up"]
    failing = {c["name"]: c for c in report["checks"] if c["status"] == "failed"}
    assert list(failing) == ["foreign_key_orphans"]
    assert "warehouse.parcels" in failing["foreign_key_orphans"]["detail"]
    assert "warehouse.scans" in failing["foreign_key_orphans"]["detail"]
    assert report["verdicts"]["baseline_present"] is True  # the backup recorded one for the latest snapshot
    assert "copied with them, the key(s) NOT VALID: warehouse.scans.scans_depot_id_fkey" in done.stderr
