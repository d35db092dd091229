"""Local restore-drill cost, as a ratio to a plain ``pg_dump | pg_restore`` of the same database.

Both run in this process against the same embedded PostgreSQL: the baseline is the cheapest honest
"restore" (copy the data, no validation); the drill restores, validates with every default check,
times the representative queries, cleans up and reports, through the synthesized state machine.
Goals: ratio <= 1.5x, state transitions per drill <= 40. Printed for the default seed (~31k rows),
where fixed per-step costs dominate, and for a 10x seed (~310k rows), closer to a real database.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

from opsctl.drill_runner import new_drill_id, run_drill, state_machine_arn
from opsctl.environment import LocalEnvironment
from opsctl.lambda_calls import backup_tick, invoke
from opsctl.local.churnguard_schema import seed_churnguard

ROUNDS = 3
RATIO_GOAL, TRANSITIONS_GOAL = 1.5, 40
SEED_SIZES = {"default seed": 50, "10x seed": 500}  # organizations; users, customers, predictions scale with it


def dump_restore_seconds(env: LocalEnvironment, source: str, round_no: int) -> float:
    pg = env.postgres
    target = f"bench_copy_{round_no}"
    pg.create_database(target)
    started = time.perf_counter()
    dump = subprocess.run([str(pg.tool("pg_dump")), "--format=custom", f"--dbname={pg.dsn(source)}"],
                          check=True, capture_output=True)
    subprocess.run([str(pg.tool("pg_restore")), "--no-owner", f"--dbname={pg.dsn(target)}"], input=dump.stdout,
                   check=True, capture_output=True)
    return time.perf_counter() - started


def drop_database(env: LocalEnvironment, name: str) -> None:
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(env.postgres.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


def measure(env: LocalEnvironment, instance: str, database: str) -> dict[str, float]:
    assert invoke(env.function_name("backup"), backup_tick("database")).ok  # a snapshot with a baseline
    machine = state_machine_arn(env.context.prefix)
    plain, drills, transitions = [], [], []
    for round_no in range(ROUNDS):
        plain.append(dump_restore_seconds(env, database, round_no))
        started = time.perf_counter()
        run = run_drill(machine, {"drill_id": new_drill_id(), "source_instance": instance, "mode": "latest",
                                  "poll_seconds": 1, "max_wait_seconds": 300}, poll_interval=0.05)
        drills.append(time.perf_counter() - started)
        transitions.append(run.transitions)
        assert run.status == "SUCCEEDED", run.report
        drop_database(env, f"bench_copy_{round_no}")
    baseline, drill = statistics.median(plain), statistics.median(drills)
    return {"pg_dump_restore_s": round(baseline, 3), "drill_s": round(drill, 3), "ratio": round(drill / baseline, 2),
            "transitions": max(transitions)}


def main() -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    results = {}
    with LocalEnvironment() as env:
        instance, database = next(iter(env.world.databases.items()))
        for label, organizations in SEED_SIZES.items():
            rows = sum(seed_churnguard(env.postgres.dsn(database), organizations=organizations, replace=True).values())
            results[label] = {"rows": rows, **measure(env, instance, database)}
    for label, r in results.items():
        print(f"{label} ({r['rows']} rows): pg_dump | pg_restore {r['pg_dump_restore_s']:5.2f} s, "
              f"drill {r['drill_s']:5.2f} s -> ratio {r['ratio']:4.2f}x "
              f"({'ok' if r['ratio'] <= RATIO_GOAL else 'over'} goal {RATIO_GOAL}x); "
              f"{r['transitions']} state transitions ({'ok' if r['transitions'] <= TRANSITIONS_GOAL else 'over'} "
              f"goal {TRANSITIONS_GOAL})")
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
