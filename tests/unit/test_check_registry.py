"""The check registry validates specs and isolates checks without needing a database."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.drill.checks import (
    CHECKS,
    DEFAULT_CHECKS,
    CheckContext,
    CheckParams,
    CheckResult,
    CheckSpec,
    IntegrityCheck,
    prepare,
    register,
    run_checks,
)
from churnguard_ops.drill.performance import DEFAULT_QUERIES, QuerySpec


class _NoDatabase:
    """A connection that must not be touched: specs that fail validation never reach the database."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"connection used ({name}) for a spec that should have been rejected")


class _Cursor:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def execute(self, statement: str, params: Any = None) -> None:
        self.log.append(f"execute {statement} {params}")


class _RecordingConnection:
    """Enough of a psycopg2 connection to watch run_checks' transaction handling."""

    def __init__(self) -> None:
        self.autocommit = True
        self.closed = False
        self.log: list[str] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self.log)

    def rollback(self) -> None:
        self.log.append("rollback")

    def commit(self) -> None:  # pragma: no cover - must never be called
        raise AssertionError("checks must never commit")


def test_default_checks_are_the_seed_set_and_all_validate() -> None:
    assert [s.check for s in DEFAULT_CHECKS] == [
        "critical_tables_non_empty", "foreign_key_orphans", "sequences_not_behind", "row_counts_vs_baseline",
        "amcheck"]
    assert DEFAULT_CHECKS[0].params["tables"] == ["customers", "users", "organizations", "predictions"]
    assert DEFAULT_CHECKS[3].params == {"tolerance_pct": 1.0}
    for spec in DEFAULT_CHECKS:
        assert not isinstance(prepare(spec), CheckResult), spec


def test_every_registered_check_documents_an_example_and_forbids_unknown_params() -> None:
    assert {"critical_tables_non_empty", "foreign_key_orphans", "sequences_not_behind",
            "row_counts_vs_baseline", "user_sql", "amcheck"} <= set(CHECKS)
    for name, cls in CHECKS.items():
        assert cls.name == name
        assert "Example" in (cls.__doc__ or ""), name
        assert cls.Params.model_config.get("extra") == "forbid", name


def test_unknown_check_is_an_error_result_listing_known_checks() -> None:
    (result,) = run_checks(_NoDatabase(), [{"check": "forign_key_orphans"}])

    assert result.status == "error" and result.name == "forign_key_orphans"
    assert "unknown check 'forign_key_orphans'" in result.detail
    assert "foreign_key_orphans" in result.detail
    assert not result.passed


@pytest.mark.parametrize(("spec", "expected"), [
    ({"check": "row_counts_vs_baseline", "params": {"tolerance": 5}}, "tolerance: Extra inputs are not permitted"),
    ({"check": "row_counts_vs_baseline", "params": {"tolerance_pct": -1}}, "tolerance_pct"),
    ({"check": "critical_tables_non_empty", "params": {"tables": []}}, "tables: List should have at least 1 item"),
    ({"check": "amcheck", "params": {"max_indexes": "lots"}}, "max_indexes"),
    ({"check": "user_sql", "params": {"queries": [{"name": "q", "sql": "SELECT 1",
                                                   "expect": {"op": "=~", "value": 1}}]}}, "queries.0.expect"),
    ({"check": "user_sql", "params": {"queries": []}}, "queries"),
])
def test_bad_params_are_an_error_result_naming_the_field(spec: dict[str, Any], expected: str) -> None:
    (result,) = run_checks(_NoDatabase(), [spec])

    assert result.status == "error" and result.name == spec["check"]
    assert result.detail.startswith(f"invalid params for {spec['check']}: ")
    assert expected in result.detail


@pytest.mark.parametrize("spec", [{"params": {}}, {"check": "amcheck", "parms": {}}, "amcheck"])
def test_a_malformed_spec_is_an_error_result(spec: Any) -> None:
    (result,) = run_checks(_NoDatabase(), [spec])

    assert result.status == "error" and "invalid check spec" in result.detail


def test_critical_tables_accepts_the_schema_key() -> None:
    _check, params, _spec = prepare({"check": "critical_tables_non_empty",
                                     "params": {"tables": ["t"], "schema": "billing"}})
    assert params.schema_ == "billing"


def test_only_a_check_that_ran_passes_and_only_failed_or_error_fail_data_integrity() -> None:
    statuses = ("passed", "failed", "not_applicable", "skipped", "error")
    results = {s: CheckResult(name="x", status=s, detail="") for s in statuses}
    assert {s: r.passed for s, r in results.items()} == {
        "passed": True, "failed": False, "not_applicable": False, "skipped": False, "error": False}
    assert {s: r.failing for s, r in results.items()} == {
        "passed": False, "failed": True, "not_applicable": False, "skipped": False, "error": True}
    assert {s: r.ran for s, r in results.items()} == {
        "passed": True, "failed": True, "not_applicable": False, "skipped": False, "error": False}
    with pytest.raises(ValidationError):
        CheckResult(name="x", status="ok", detail="")


class _Boom(IntegrityCheck):
    """Raises. Example: {"check": "test_boom"}"""

    name = "test_boom"

    def run(self, conn: Any, params: CheckParams, context: CheckContext) -> CheckResult:
        raise RuntimeError("disk on fire")


class _Fine(IntegrityCheck):
    """Passes. Example: {"check": "test_fine"}"""

    name = "test_fine"

    def run(self, conn: Any, params: CheckParams, context: CheckContext) -> CheckResult:
        return self.result("passed", f"timeout seen as {context.statement_timeout_ms}")


def test_a_raising_check_is_an_error_and_every_check_gets_its_own_transaction_and_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CHECKS, "test_boom", _Boom)
    monkeypatch.setitem(CHECKS, "test_fine", _Fine)
    conn = _RecordingConnection()

    boom, fine = run_checks(conn, [CheckSpec(check="test_boom", statement_timeout_ms=50),
                                   CheckSpec(check="test_fine")], CheckContext(statement_timeout_ms=700))

    assert boom.status == "error" and boom.detail == "RuntimeError: disk on fire"
    assert fine.status == "passed"
    timeouts = [line for line in conn.log if "statement_timeout" in line]
    assert [t.rsplit(" ", 1)[1] for t in timeouts] == ["('50',)", "('700',)"]
    # each check: rollback before (clean start) and after (nothing it did survives)
    assert conn.log.count("rollback") == 4
    assert conn.autocommit is True  # restored


def test_register_rejects_duplicates_and_undocumented_checks() -> None:
    class Duplicate(_Fine):
        """Same name. Example: {}"""

        name = "amcheck"

    class Undocumented(IntegrityCheck):
        name = "test_undocumented"

        def run(self, conn: Any, params: CheckParams, context: CheckContext) -> CheckResult:
            raise NotImplementedError

    with pytest.raises(ValueError, match="already registered"):
        register(Duplicate)
    with pytest.raises(TypeError, match="docstring"):
        register(Undocumented)
    assert "test_undocumented" not in CHECKS


def test_performance_query_specs_validate() -> None:
    assert len(DEFAULT_QUERIES) >= 3 and all(q.max_ms >= 1000 for q in DEFAULT_QUERIES)
    with pytest.raises(ValidationError):
        QuerySpec(name="q", sql="SELECT 1", max_ms=0)
    with pytest.raises(ValidationError):
        QuerySpec.model_validate({"name": "q", "sql": "SELECT 1", "max_ms": 5, "timeout": 1})
