"""opsctl drill run as a user runs it, on the default database and on one the drill has never seen."""
from __future__ import annotations

import json
import re

import psycopg2
import pytest

from opsctl.local.postgres import EmbeddedPostgres
from tests.e2e.test_opsctl import opsctl

pytestmark = pytest.mark.e2e

FOREIGN_SCHEMA = """
CREATE SCHEMA warehouse;
CREATE TABLE warehouse."Depots" (depot_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, city text NOT NULL);
CREATE TABLE warehouse.parcels (
    id serial PRIMARY KEY,
    depot_id bigint NOT NULL REFERENCES warehouse."Depots" (depot_id),
    weight_kg numeric(8, 2) NOT NULL);
INSERT INTO warehouse."Depots" (city) SELECT 'city ' || g FROM generate_series(1, 20) g;
INSERT INTO warehouse.parcels (depot_id, weight_kg) SELECT 1 + g % 20, g / 10.0 FROM generate_series(1, 3000) g;
"""


def test_drill_on_the_default_database_passes_reports_rto_rpo_and_leaves_nothing(tmp_path):
    done = opsctl("drill", "run", "--local", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "drill-report.json").read_text())
    run = json.loads((tmp_path / "drill-run.json").read_text())
    assert report["passed"] and all(report["verdicts"][v] for v in
                                    ("snapshot_exists", "can_restore", "data_integrity", "performance_acceptable"))
    assert report["rto"]["seconds"] is not None and report["rpo"]["seconds"] is not None
    assert {c["name"]: c["status"] for c in report["checks"]}["row_counts_vs_baseline"] == "passed"
    assert run["left_behind"] == [] and run["status"] == "SUCCEEDED"
    assert "-> Validate" in done.stderr and "left behind: nothing" in done.stdout
    # The median is what the limit applies to; the slowest run is labelled as such.
    assert re.search(r"query users_per_org: [\d.]+ ms median \(limit 3000 ms, slowest run [\d.]+ ms\)", done.stdout)


def test_drill_of_a_database_it_has_never_seen_passes_with_catalog_driven_checks(tmp_path):
    with EmbeddedPostgres() as foreign:
        dsn = foreign.create_database("logistics")
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute(FOREIGN_SCHEMA)
        done = opsctl("drill", "run", "--local", "--source-dsn", dsn, "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "drill-report.json").read_text())
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["foreign_key_orphans"]["detail"].startswith("1 foreign keys checked")  # found from the catalog
    assert checks["critical_tables_non_empty"]["status"] == "passed"
    assert checks["row_counts_vs_baseline"]["status"] == "passed"
    assert report["passed"]
