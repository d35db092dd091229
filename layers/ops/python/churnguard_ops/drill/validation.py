"""Validate and time the restored copy with real SQL. Never the source: guarded before connecting."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock, utcnow
from churnguard_ops.core.ports import Credentials, Documents, RdsRegion
from churnguard_ops.drill import guard
from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.settings import DrillSettings


class DrillValidator:
    def __init__(self, settings: DrillSettings, rds: Callable[[str], RdsRegion], primary_region: str,
                 credentials: Credentials, documents: Documents | None,
                 clock: Clock = utcnow) -> None:
        self.settings = settings
        self.rds = rds
        self.primary_region = primary_region
        self.credentials = credentials
        self.documents = documents
        self.clock = clock

    def connect_copy(self, state: DrillState) -> tuple[Any, str]:
        """A connection to this drill's restored copy (and its endpoint), after every guard passed."""
        from churnguard_ops.core.postgres import connect  # psycopg2 loads only in the functions that connect

        plan, restore = state.plan, state.restore
        if plan is None or restore is None:
            raise ValueError("validation needs $.plan and $.restore")
        guard.require_drill_instance(restore.instance_id, plan.source_instance, self.settings.db_instance_ids)
        restored = self.rds(plan.region).instance(restore.instance_id)
        guard.require_drill_owned("instance", restored.instance_id, restored.tags, plan.drill_id)
        secret_id = self.settings.db_secrets.get(plan.source_instance)
        if not secret_id:
            raise ValueError(f"no credentials configured for {plan.source_instance} (DRILL_DB_SECRETS)")
        creds = self.credentials.get(secret_id)
        source = self.rds(self.primary_region).instance(plan.source_instance)
        dbname = restored.db_name or creds.get("dbname") or "postgres"
        source_db = source.db_name or creds.get("dbname") or "postgres"
        if not restored.address or not restored.port:
            raise ValueError(f"{restored.instance_id} has no endpoint yet (status {restored.status})")
        guard.require_distinct_endpoint((restored.address, int(restored.port), dbname),
                                        (source.address or "", int(source.port or 0), source_db))
        return connect(host=restored.address, port=int(restored.port), user=creds["username"],
                       password=creds.get("password", ""), dbname=dbname, sslmode=self.settings.db_sslmode,
                       sslrootcert=self.settings.db_sslrootcert), f"{restored.address}:{restored.port}"

    def _baseline(self, state: DrillState) -> tuple[dict[str, int] | None, dict[str, Any]]:
        """The backup-time row counts of the recovery point, and what the report says about them.

        Required only when drilling the latest scheduled backup: every such backup records one (the
        drill's credentials are the ones the backup counts rows with), so a missing one is a backup
        problem the drill must surface. A fresh drill snapshot, a named snapshot (perhaps a DBA's) and a
        point in time never had one: shown, not failed on.
        """
        plan = state.plan
        info: dict[str, Any] = {"present": False, "required": state.mode == "latest"}
        snapshot_id = plan.recovery_point.snapshot_id if plan else None
        if plan is None:
            info["reason"] = "the drill has no plan"
        elif not snapshot_id:
            info["reason"] = "a point-in-time recovery point has no baseline (backups record one per snapshot)"
        elif plan.drill_snapshot_id:
            info["reason"] = "a fresh drill snapshot has no baseline (baselines are recorded by backups)"
        elif self.documents is None:
            info["reason"] = "no backup bucket configured (DRILL_BUCKET) to read baselines from"
        else:
            key = contracts.baseline_key(plan.source_instance, snapshot_id)
            document = self.documents.load(key)
            tables = document.get("tables") if document else None
            if tables is not None:
                return tables, {**info, "present": True, "tables": len(tables), "key": key}
            info["reason"] = f"no baseline recorded for snapshot {snapshot_id} ({key})"
        return None, info

    def validate(self, state: DrillState) -> dict[str, Any]:
        """Run the checks. data_integrity: nothing failed or errored, and at least one check ran.

        not_applicable (nothing to check) and skipped (cannot run here) do not fail it by themselves, but
        a drill where no check ran proved nothing; the lists below say which checks did what.
        """
        from churnguard_ops.drill.checks import DEFAULT_CHECKS, CheckContext, run_checks

        # Raw dicts on purpose: run_checks turns a bad entry into an "error" result and runs the rest.
        specs = self.settings.checks or DEFAULT_CHECKS
        baseline, baseline_info = self._baseline(state)
        conn, endpoint = self.connect_copy(state)
        try:
            results = run_checks(conn, specs, CheckContext(baseline=baseline,
                                                           statement_timeout_ms=self.settings.statement_timeout_ms))
        finally:
            conn.close()
        return {"data_integrity": not any(r.failing for r in results) and any(r.ran for r in results),
                "snapshot_exists": True, "can_restore": True,
                "validated_at": self.clock().isoformat(), "endpoint": endpoint,
                "baseline": baseline_info,
                "checks_ran": [r.name for r in results if r.ran],
                "checks_not_applicable": [r.name for r in results if r.status == "not_applicable"],
                "checks_skipped": [r.name for r in results if r.status == "skipped"],
                "checks": [r.model_dump(mode="json") for r in results]}

    def measure(self, state: DrillState) -> dict[str, Any]:
        from churnguard_ops.drill.performance import DEFAULT_QUERIES, QuerySpec, time_queries

        specs = ([QuerySpec.model_validate(q) for q in self.settings.performance_queries]
                 if self.settings.performance_queries else DEFAULT_QUERIES)
        conn, _ = self.connect_copy(state)
        try:
            timings = time_queries(conn, specs, statement_timeout_ms=self.settings.statement_timeout_ms)
        finally:
            conn.close()
        return {"performance_acceptable": all(t.passed for t in timings),
                "queries": [t.model_dump(mode="json") for t in timings],
                "measured_at": self.clock().isoformat()}

    def prove_indexes(self, state: DrillState, time_left: Callable[[], float] | None = None) -> dict[str, Any]:
        """The advisor's index proposals proven on the copy (advisory: failures are reported, not raised)."""
        from churnguard_ops.drill.index_proof_stage import prove_on_copy

        return prove_on_copy(self, state, time_left).model_dump(mode="json")
