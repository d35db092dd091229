"""The advisor use case: for each instance read the database, advise, store the advice and the proposals.

Per instance: one connection, one read-only transaction of catalog and statistics reads, the analysis
(:func:`churnguard_ops.dbadvisor.analysis.advise`), ``ANALYZE`` of the stale tables only when configured, then
``dbadvisor/reports/<instance>/<run>/advice.{json,md}`` and ``dbadvisor/proposals/<instance>.json`` (the drill's
proof stage reads the latter). One failing instance does not stop the others; the run raises at the end.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, get_args

from churnguard_ops.core import contracts
from churnguard_ops.core.clock import Clock
from churnguard_ops.core.ports import MetricsSink, Notifier
from churnguard_ops.dbadvisor.analysis import advise, stale_tables
from churnguard_ops.dbadvisor.model import KIND_ORDER, Advice, FindingKind, Note
from churnguard_ops.dbadvisor.ports import CatalogReader, DatabaseConnector, ReportStore
from churnguard_ops.dbadvisor.render import render_markdown
from churnguard_ops.dbadvisor.thresholds import Thresholds

FINDINGS_METRIC = "DbAdvisorFindings"


class AdviceFailed(Exception):
    """At least one instance could not be advised (the others were)."""


def advise_database(reader: CatalogReader, *, db_instance_id: str, database: str, thresholds: Thresholds,
                    clock: Clock, analyze_stale: bool = False) -> Advice:
    """One database, without AWS: what the function runs per instance and ``opsctl db advise --dsn`` runs."""
    snapshot = reader.snapshot(top=thresholds.top_statements, slow_ms=thresholds.slow_query_ms)
    advice = advise(snapshot, thresholds, db_instance_id=db_instance_id, database=database, now=clock())
    stale = stale_tables(advice)
    if analyze_stale and stale:
        outcomes = reader.analyze(stale)
        advice.analyzed_tables = sorted(t for t, outcome in outcomes.items() if outcome == "analyzed")
        for table, outcome in sorted(outcomes.items()):
            if outcome != "analyzed":
                advice.notes.append(Note(topic="analyze", status="error", reason=f"{table}: {outcome}"))
    elif stale:
        advice.notes.append(Note(topic="analyze", status="info",
                                 reason=f"{len(stale)} table(s) with stale statistics not analyzed "
                                        "(analyze_stale is false)"))
    return advice


@dataclass
class InstanceResult:
    db_instance_id: str
    advice: Advice | None = None
    locations: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def headline(self) -> dict[str, Any]:
        if self.advice is None:
            return {"db_instance_id": self.db_instance_id, "ok": False, "error": self.error}
        a = self.advice
        return {"db_instance_id": self.db_instance_id, "ok": True, "database": a.database,
                "counts": a.counts(), "findings": len(a.findings), "proposals": len(a.proposals),
                "pg_stat_statements": a.pg_stat_statements.get("available", False),
                "analyzed_tables": a.analyzed_tables, "documents": dict(self.locations)}


@dataclass
class AdviseRun:
    results: list[InstanceResult]

    def headline(self) -> dict[str, Any]:
        return {"instances": [r.headline() for r in self.results],
                "failed": [r.db_instance_id for r in self.results if r.error]}


class DbAdvisor:
    def __init__(self, instances: list[str], connector: DatabaseConnector, store: ReportStore,
                 notifier: Notifier | None, metrics: MetricsSink | None, clock: Clock, *,
                 thresholds: Thresholds, analyze_stale: bool = False) -> None:
        self.instances = instances
        self.connector = connector
        self.store = store
        self.notifier = notifier
        self.metrics = metrics
        self.clock = clock
        self.thresholds = thresholds
        self.analyze_stale = analyze_stale

    def run(self, db_instance_id: str | None = None) -> AdviseRun:
        if db_instance_id is not None and db_instance_id not in self.instances:
            configured = ", ".join(self.instances) or "none"
            raise ValueError(f"db_instance_id: {db_instance_id} is not a configured instance "
                             f"(configured: {configured})")
        targets = [db_instance_id] if db_instance_id else list(self.instances)
        results = [self._one(instance) for instance in targets]
        run = AdviseRun(results)
        if self.notifier is not None and results:
            self.notifier.publish(summary_subject(run), summary_message(run))
        failed = [r for r in results if r.error]
        if failed:
            raise AdviceFailed("; ".join(f"{r.db_instance_id}: {r.error}" for r in failed))
        return run

    def _one(self, instance: str) -> InstanceResult:
        result = InstanceResult(instance)
        try:
            with self.connector.open(instance) as (reader, database):
                advice = advise_database(reader, db_instance_id=instance, database=database,
                                         thresholds=self.thresholds, clock=self.clock,
                                         analyze_stale=self.analyze_stale)
        except Exception as exc:  # noqa: BLE001 -- one instance's failure is reported; the others still run
            result.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            return result
        folder = f"{contracts.DBADVISOR_REPORTS_PREFIX}{instance}/{advice.generated_at:%Y%m%dT%H%M%SZ}/"
        result.locations = {
            "json": self.store.put(f"{folder}advice.json", json.dumps(advice.document(), indent=1, sort_keys=True),
                                   "application/json"),
            "markdown": self.store.put(f"{folder}advice.md", render_markdown(advice),
                                       "text/markdown; charset=utf-8"),
            "proposals": self.store.put(proposals_key(instance),
                                        json.dumps(advice.proposals_document(), indent=1, sort_keys=True),
                                        "application/json"),
        }
        result.advice = advice
        if self.metrics is not None:
            counts = advice.counts()
            for kind in get_args(FindingKind):  # zeros too: a graph or alarm sees a kind go away
                self.metrics.put(FINDINGS_METRIC, counts.get(kind, 0), "Count",
                                 {"DBInstanceIdentifier": instance, "Kind": kind})
        return result


def proposals_key(db_instance_id: str) -> str:
    return f"{contracts.DBADVISOR_PROPOSALS_PREFIX}{db_instance_id}.json"


def summary_subject(run: AdviseRun) -> str:
    ok = [r for r in run.results if r.advice is not None]
    proposals = sum(len(r.advice.proposals) for r in ok if r.advice)
    findings = sum(len(r.advice.findings) for r in ok if r.advice)
    failed = len(run.results) - len(ok)
    return (f"PostgreSQL advisor: {findings} findings, {proposals} index proposals on {len(ok)} instance(s)"
            + (f", {failed} failed" if failed else ""))[:100]


def summary_message(run: AdviseRun) -> str:
    lines = [summary_subject(run), ""]
    for r in run.results:
        if r.advice is None:
            lines.append(f"{r.db_instance_id}: FAILED: {r.error}")
            continue
        a = r.advice
        counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in a.counts().items()) or "no findings"
        lines.append(f"{r.db_instance_id} ({a.database}): {counts}")
        if not a.pg_stat_statements.get("available"):
            lines.append(f"  pg_stat_statements not available: {a.pg_stat_statements.get('reason')}")
        for finding in [f for f in a.findings if f.sql and f.kind in KIND_ORDER[:5]][:5]:
            lines.append(f"  - {finding.summary}\n    {finding.sql}")
        lines.append(f"  advice: {r.locations.get('markdown')}")
    return "\n".join(lines)
