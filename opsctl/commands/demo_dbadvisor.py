"""Demo steps of the PostgreSQL advisor: the deployed function advises the seeded ChurnGuard database.

The seed (:mod:`opsctl.local.churnguard_schema`) gives ``usage_events`` 20,000 rows, two identical indexes on
``occurred_at``, an index on ``source`` nothing uses, and a workload that filters by ``org_id`` and ``kind``, a
pair no index leads with. The drill steps after this one prove the proposal on their copy.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsctl.commands.common import read_s3
from opsctl.commands.db import invoke_advisor, write_out
from opsctl.commands.demo_steps import Step

DUPLICATES = {"usage_events_occurred_idx", "usage_events_occurred_at_idx"}
UNUSED = "usage_events_source_time_idx"
MISSING = ("public", "usage_events", ["org_id", "kind"])


def _protected_indexes(dsn: str) -> set[str]:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE i.indisprimary OR i.indisunique")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def advise_seeded_database(env: Any, out: str | None) -> Step:
    instance = env.context.backup.db_instance_ids[0]
    step = Step(f"PostgreSQL advisor on {instance} (the seeded ChurnGuard database, through the Lambda): column-level "
                "index advice, duplicate and unused indexes, keys left alone")
    ok, headline, advices = invoke_advisor(env.function_name("dbadvisor"),
                                           {"action": "advise", "db_instance_id": instance})
    step.expect("the advisor function ran and wrote its advice", ok and len(advices) == 1,
                str(headline.get("errorMessage") or [i.get("documents", {}).get("json")
                                                      for i in headline.get("instances", [])]))
    if not advices:
        return step
    advice = advices[0]
    findings = advice["findings"]
    preloaded = bool(env.postgres.preloaded)
    pss = advice["pg_stat_statements"]
    if preloaded:
        step.expect("pg_stat_statements is available (preloaded, extension in the database)", pss["available"],
                    f"{pss.get('statements_read')} statements read")
        missing = [f for f in findings if f["kind"] == "missing_index"
                   and (f["schema"], f["table"], f["columns"]) == MISSING]
        step.expect("a column-level missing index on the workload's columns: usage_events (org_id, kind), read "
                    "sequentially by every dashboard query", len(missing) == 1,
                    missing[0]["sql"] if missing else str([(f["table"], f["columns"]) for f in findings
                                                           if f["kind"] == "missing_index"]))
    else:  # the pgserver fallback has no pg_stat_statements: the advisor must say so plainly
        step.expect("pg_stat_statements is reported not available, with how to enable it",
                    not pss["available"] and bool(pss.get("enable")), str(pss.get("reason")))
    dups = [f for f in findings if f["kind"] == "duplicate_index" and f["index"] in DUPLICATES]
    step.expect("the duplicate index on usage_events (occurred_at) is found; the other one is kept",
                len(dups) == 1 and dups[0]["evidence"]["duplicate_of"] in DUPLICATES,
                dups[0]["sql"] if dups else "none")
    unused = [f for f in findings if f["kind"] == "unused_index" and f["index"] == UNUSED]
    step.expect(f"the unused index {UNUSED} is found with its size", len(unused) == 1
                and unused[0]["evidence"]["size_bytes"] > 0, unused[0]["sql"] if unused else "none")
    database = env.world.databases[instance]
    named = {f["index"] for f in findings if f.get("index")} & _protected_indexes(env.postgres.dsn(database))
    step.expect("no finding names a primary key or unique index", not named, ", ".join(sorted(named)) or "none")
    location = advice.get("documents", {}).get("proposals", "")
    document = json.loads(read_s3(location)) if location else {}
    proposals = document.get("proposals", [])
    wanted = [p for p in proposals if (p["schema"], p["table"], p["columns"]) == MISSING] if preloaded else proposals
    step.expect(f"the proposals document for {instance} is in the ops bucket for the drill's proof stage",
                document.get("db_instance_id") == instance and document.get("schema_version") == 1
                and (len(wanted) == 1 if preloaded else proposals == []), location)
    if out:
        for path in write_out(str(Path(out) / "dbadvisor"), advices):
            print(f"    wrote {path}")
    return step


DBADVISOR_SCENARIOS: list[Callable[..., Step]] = [advise_seeded_database]
