"""opsctl as a user runs it: a fresh process on the embedded default (moto server + PostgreSQL)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.events import event_files

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def opsctl(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opsctl", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


#: An operator must not wonder whether opsctl hangs: progress at least this often (heartbeat 8 s + slack).
def test_invoke_backup_works_with_every_sample_event_and_prints_a_summary_of_each(tmp_path):
    files = event_files("backup")
    assert len(files) >= 4
    args = ["invoke", "backup", "--local", "--now", "--out", str(tmp_path)]
    for path in files:
        args += ["--event", str(path.relative_to(ROOT))]
    done = opsctl(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    records = json.loads((tmp_path / "invoke-backup.json").read_text())
    assert [r["error"] for r in records] == [None] * len(files)
    assert all(r["payload"]["outcomes"] for r in records)  # the full results go to --out
    # Without --json: a summary per event, not the full results.
    lines = done.stdout.splitlines()
    for path in files:
        assert f"churnguard-ops-backup <- {path.relative_to(ROOT)}: ok" in lines, done.stdout[-3000:]
    database = lines.index("churnguard-ops-backup <- events/backup/scheduled-tick-database.json: ok")
    assert lines[database + 1].startswith("  Backup policy 'database', slot "), done.stdout[-3000:]
    assert any(re.match(r"  +\[  ok\] snapshot churnguard-prod", line) for line in lines), done.stdout[-3000:]
    assert '"outcomes"' not in done.stdout


def test_a_replayed_backup_event_is_refused_naming_its_time_and_json_prints_the_full_result(tmp_path):
    done = opsctl("invoke", "backup", "--local", "--json", "--out", str(tmp_path),
                  "--event", "events/backup/scheduled-tick-database.json")
    assert done.returncode == 1
    (record,) = json.loads((tmp_path / "invoke-backup.json").read_text())
    assert record["payload"]["errorType"] == "InvalidEvent"
    assert record["payload"]["errorMessage"].startswith("time: 2026-11-28T10:00:00+00:00 is ")
    assert "refusing a replayed event" in record["payload"]["errorMessage"]
    assert json.loads(done.stdout) == record["payload"]  # --json: the whole result, as JSON, instead of a summary


def test_backup_run_takes_an_on_demand_recovery_point_even_when_the_hours_snapshot_exists(tmp_path):
    done = opsctl("backup", "run", "--local", "--policy", "database", "--instance", "churnguard-prod",
                  "--retention-days", "7", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    payload = json.loads((tmp_path / "backup-run.json").read_text())["database"]["payload"]
    (snapshot,) = [o for o in payload["outcomes"] if o["action"] == "snapshot"]
    assert snapshot["status"] == "succeeded" and "-database-od-" in snapshot["data"]["snapshot_id"]
    (copy,) = [o for o in payload["outcomes"] if o["action"] == "copy"]
    assert copy["data"]["snapshot_id"] == snapshot["data"]["snapshot_id"]  # the newest goes to DR at once


def test_backup_run_with_a_throttled_instance_exits_non_zero_and_names_it(tmp_path):
    done = opsctl("backup", "run", "--local", "--policy", "database", "--out", str(tmp_path),
                  "--inject-fault", "rds:CreateDBSnapshot:DBInstanceIdentifier=churnguard-analytics")
    assert done.returncode == 1
    assert "churnguard-analytics (snapshot)" in done.stdout and "Throttling" in done.stdout
    result = json.loads((tmp_path / "backup-run.json").read_text())
    assert result["database"]["ok"] is False
    # botocore retries the throttling (3 attempts on the embedded AWS): said up front, counted at the end.
    assert "expect some seconds before the tick reports" in done.stderr
    answered = re.search(r"(\d+) injected error\(s\) answered \(each a throttled attempt", done.stderr)
    assert answered and int(answered.group(1)) >= 3, done.stderr[-2000:]


def test_demo_passes_every_check_and_writes_results(tmp_path):
    done = opsctl("demo", "--out", str(tmp_path), timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    steps = json.loads((tmp_path / "demo-results.json").read_text())
    assert steps and all(step["passed"] for step in steps)
    assert "Demo summary" in done.stdout
    assert re.search(r"[1-9]\d* throttled attempt\(s\) answered \(the client's retries", done.stderr)
    # Each step's duration is in the results (a step that only reads may round to 0.0 s; the demo cannot).
    assert all(step["seconds"] >= 0 for step in steps) and sum(step["seconds"] for step in steps) > 60


def test_plugins_lists_every_check_and_shows_its_parameters_and_example(tmp_path):
    listed = opsctl("plugins", "list", "--out", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    infos = json.loads((tmp_path / "plugins.json").read_text())
    assert {"foreign_key_orphans", "amcheck", "user_sql"} <= {i["name"] for i in infos if i["kind"] == "check"}
    assert "foreign_key_orphans" in listed.stdout

    shown = opsctl("plugins", "show", "row_counts_vs_baseline")
    assert shown.returncode == 0, shown.stderr
    assert "tolerance_pct: number, default 1.0" in shown.stdout
    assert '"check": "row_counts_vs_baseline"' in shown.stdout  # the docstring's example
    assert "IAM permissions: none" in shown.stdout


def test_plugins_show_of_an_unknown_name_is_one_line_and_exit_2():
    done = opsctl("plugins", "show", "forign_key_orphans")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "unknown plugin 'forign_key_orphans'" in done.stderr and "foreign_key_orphans" in done.stderr
