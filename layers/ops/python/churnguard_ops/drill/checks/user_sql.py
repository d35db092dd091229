"""user_sql: operator-supplied assertions in SQL, run read-only on the copy.

Why read-only: the queries come from configuration; SET TRANSACTION READ ONLY makes PostgreSQL itself
refuse any write, whatever the SQL says.
"""
from __future__ import annotations

import operator
from typing import Any, Literal

import psycopg2
from pydantic import BaseModel, ConfigDict, Field

from .base import CheckContext, CheckParams, CheckResult, IntegrityCheck
from .registry import register

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
        "!=": operator.ne}


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal[">=", "<=", "==", ">", "<", "!="]
    value: float


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    expect: Literal["no_rows", "some_rows"] | Comparison


class UserSqlParams(CheckParams):
    queries: list[Query] = Field(min_length=1)


@register
class UserSql(IntegrityCheck[UserSqlParams]):
    """Run configured queries read-only and compare with an expectation.

    ``expect`` is "no_rows", "some_rows", or {"op": ">=", "value": 1} for a query returning one scalar.
    Example::

        {"check": "user_sql", "params": {"queries": [
            {"name": "no future predictions", "sql": "SELECT id FROM predictions WHERE predicted_at > now()",
             "expect": "no_rows"},
            {"name": "enough orgs", "sql": "SELECT count(*) FROM organizations",
             "expect": {"op": ">=", "value": 1}}]}}
    """

    name = "user_sql"
    Params = UserSqlParams

    def run(self, conn: Any, params: UserSqlParams, context: CheckContext) -> CheckResult:
        findings = []
        with conn.cursor() as cur:
            cur.execute("SET TRANSACTION READ ONLY")
            for query in params.queries:
                # A savepoint per query: one failing/timed-out query must not abort the others.
                cur.execute("SAVEPOINT user_sql_query")
                try:
                    findings.append(_evaluate(cur, query))
                    cur.execute("RELEASE SAVEPOINT user_sql_query")
                except psycopg2.Error as exc:
                    cur.execute("ROLLBACK TO SAVEPOINT user_sql_query")
                    findings.append({"query": query.name, "outcome": "error",
                                     "error": f"{type(exc).__name__}: {str(exc).strip()}"})
        failed = [f for f in findings if f["outcome"] == "failed"]
        errored = [f for f in findings if f["outcome"] == "error"]
        if failed or errored:
            parts = [f"{f['query']}: {f['reason']}" for f in failed]
            parts += [f"{f['query']}: {f['error']}" for f in errored]
            return self.result("failed" if failed else "error", "; ".join(parts), findings)
        return self.result("passed", f"{len(findings)} queries met their expectations", findings)


def _evaluate(cur: Any, query: Query) -> dict[str, Any]:
    cur.execute(query.sql)
    rows = cur.fetchmany(2) if cur.description else []
    if query.expect == "no_rows":
        ok, reason = not rows, "expected no rows, got at least one"
    elif query.expect == "some_rows":
        ok, reason = bool(rows), "expected rows, got none"
    else:
        if len(rows) != 1 or len(rows[0]) != 1:
            shape = f"expected a single scalar, got {len(rows)} row(s)"
            return {"query": query.name, "outcome": "failed", "reason": shape}
        value = rows[0][0]
        try:
            number = float(value)
        except (TypeError, ValueError):
            return {"query": query.name, "outcome": "failed", "reason": f"result {value!r} is not a number"}
        ok = _OPS[query.expect.op](number, query.expect.value)
        reason = f"{number:g} {query.expect.op} {query.expect.value:g} is false"
        return {"query": query.name, "outcome": "passed" if ok else "failed", "value": number,
                **({} if ok else {"reason": reason})}
    return {"query": query.name, "outcome": "passed" if ok else "failed", **({} if ok else {"reason": reason})}
