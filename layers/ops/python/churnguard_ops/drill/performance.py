"""Time representative queries on the restored copy (read-only, warm-up first, median of N).

Why a median after a warm-up: a freshly restored RDS instance lazily loads blocks from S3, so the first
run measures hydration, not the query; the median of the following runs is what users would see.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg2
from pydantic import BaseModel, ConfigDict, Field

from churnguard_ops.core.postgres import transaction

__all__ = ["DEFAULT_QUERIES", "QuerySpec", "QueryTiming", "time_queries"]


class QuerySpec(BaseModel):
    """One entry of DRILL_PERFORMANCE_QUERIES: {"name", "sql", "max_ms"} (threshold on the median)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    max_ms: float = Field(gt=0)


class QueryTiming(BaseModel):
    name: str
    median_ms: float | None  # None when the query failed
    max_ms: float | None     # slowest timed run (not the threshold)
    passed: bool
    threshold_ms: float
    error: str | None = None


# Representative ChurnGuard reads over the seeded schema (opsctl.local.churnguard_schema). Thresholds are
# generous: a drill runs on a cold db.t3.micro and should flag "unusable", not "slightly slower".
DEFAULT_QUERIES: list[QuerySpec] = [
    QuerySpec(name="predictions_per_org_last_30_days", max_ms=5000, sql=(
        "SELECT org_id, count(*) AS predictions, avg(churn_score) AS avg_score FROM predictions "
        "WHERE predicted_at >= now() - interval '30 days' GROUP BY org_id ORDER BY org_id")),
    QuerySpec(name="top_at_risk_customers", max_ms=5000, sql=(
        "SELECT c.id, c.name, c.mrr, latest.churn_score FROM customers c "
        "JOIN LATERAL (SELECT p.churn_score FROM predictions p WHERE p.customer_id = c.id "
        "ORDER BY p.predicted_at DESC LIMIT 1) latest ON true "
        "WHERE c.org_id = (SELECT min(id) FROM organizations) "
        "ORDER BY latest.churn_score DESC, c.id LIMIT 25")),
    QuerySpec(name="users_per_org", max_ms=3000, sql=(
        "SELECT o.id, o.name, count(u.id) AS users FROM organizations o "
        "LEFT JOIN users u ON u.org_id = o.id GROUP BY o.id, o.name ORDER BY users DESC, o.id")),
    QuerySpec(name="active_mrr_per_org", max_ms=3000, sql=(
        "SELECT s.org_id, sum(s.mrr) AS mrr, count(*) AS subscriptions FROM subscriptions s "
        "WHERE s.status = 'active' GROUP BY s.org_id ORDER BY mrr DESC")),
]


def _run_once(cur: Any, query: str) -> float:
    started = time.perf_counter()
    cur.execute(query)
    if cur.description is not None:
        cur.fetchall()  # include transfer: that is what an application pays too
    return (time.perf_counter() - started) * 1000.0


def time_queries(conn: Any, specs: Iterable[QuerySpec | Mapping[str, Any]] = DEFAULT_QUERIES, repeats: int = 3,
                 statement_timeout_ms: int = 30000) -> list[QueryTiming]:
    """Each query in its own READ ONLY transaction: one warm-up run, then ``repeats`` timed runs."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    timings = []
    for raw in specs:
        spec = raw if isinstance(raw, QuerySpec) else QuerySpec.model_validate(raw)
        try:
            with transaction(conn, statement_timeout_ms, read_only=True) as cur:
                _run_once(cur, spec.sql)  # warm-up (cache hydration, plan caching)
                runs = [_run_once(cur, spec.sql) for _ in range(repeats)]
        except psycopg2.Error as exc:
            timings.append(QueryTiming(name=spec.name, median_ms=None, max_ms=None, passed=False,
                                       threshold_ms=spec.max_ms,
                                       error=f"{type(exc).__name__}: {str(exc).strip()}"))
            continue
        median = round(statistics.median(runs), 3)
        timings.append(QueryTiming(name=spec.name, median_ms=median, max_ms=round(max(runs), 3),
                                   passed=median <= spec.max_ms, threshold_ms=spec.max_ms))
    return timings
