"""The validate step without a database: TLS settings reach libpq, and the result says which checks ran."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg2
import pytest

import churnguard_ops.drill.checks as checks_package
from churnguard_ops.core import contracts
from churnguard_ops.core.fakes import MemoryDocuments
from churnguard_ops.core.postgres import RDS_CA_BUNDLE
from churnguard_ops.drill.checks import CheckResult
from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.validation import DrillValidator
from churnguard_ops.drill.workflow import DrillWorkflow
from tests.unit.drill_fakes import T0, FakeDrillRds, execution, source_instance

RUN = execution("v1")


class _Credentials:
    def get(self, secret_id: str) -> dict:
        return {"username": "churnguard", "password": "not-logged", "dbname": "churnguard"}


class _Connection:
    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def libpq(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every psycopg2.connect call's keyword arguments; the connection it returns does nothing."""
    calls: list[dict[str, Any]] = []

    def fake_connect(**kwargs: Any) -> _Connection:
        calls.append(kwargs)
        return _Connection()

    monkeypatch.setattr(psycopg2, "connect", fake_connect)
    return calls


def _validator(settings: DrillSettings, documents: MemoryDocuments | None = None,
               mode: str = "latest") -> tuple[DrillValidator, DrillState]:
    rds = FakeDrillRds()
    rds.add_instance(source_instance())
    rds.add_snapshot("snap", "churnguard-prod", T0)
    workflow = DrillWorkflow(settings, lambda region: rds, "us-east-1", clock=lambda: T0)
    state = DrillState.model_validate({"poll_seconds": 1, "mode": mode,
                                       **({"snapshot_id": "snap"} if mode == "snapshot" else {})})
    state.plan = workflow.plan(state, RUN)
    state.restore = workflow.restore(state)
    restored = rds.instance(state.restore.instance_id)
    rds.add_instance(replace(restored, status="available", address=f"{restored.instance_id}.rds.example",
                             port=5432, db_name="churnguard"))
    return DrillValidator(settings, lambda region: rds, "us-east-1", _Credentials(), documents,
                          clock=lambda: T0), state


def _settings(**values: Any) -> DrillSettings:
    return DrillSettings(db_instance_ids=["churnguard-prod"], db_secrets={"churnguard-prod": "secret"}, **values)


def _canned(monkeypatch: pytest.MonkeyPatch, *results: CheckResult) -> None:
    monkeypatch.setattr(checks_package, "run_checks", lambda conn, specs, context=None: list(results))


# -- TLS -----------------------------------------------------------------------------------------------------

def test_the_default_verifies_the_server_certificate_against_the_rds_bundle_in_the_layer() -> None:
    settings = DrillSettings()
    assert settings.db_sslmode == "verify-full"
    assert settings.db_sslrootcert == RDS_CA_BUNDLE
    assert RDS_CA_BUNDLE.endswith("churnguard_ops/core/rds-global-bundle.pem")  # /opt/python/... on Lambda


def test_sslmode_and_sslrootcert_from_the_environment_reach_libpq(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]], tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("DRILL_DB_SSLMODE", "verify-ca")
    monkeypatch.setenv("DRILL_DB_SSLROOTCERT", str(bundle))
    monkeypatch.setenv("DRILL_DB_INSTANCE_IDS", '["churnguard-prod"]')
    monkeypatch.setenv("DRILL_DB_SECRETS", '{"churnguard-prod": "secret"}')
    validator, state = _validator(DrillSettings())
    _canned(monkeypatch, CheckResult(name="foreign_key_orphans", status="passed", detail="1 foreign keys checked"))

    validator.validate(state)

    (call,) = libpq
    assert call["sslmode"] == "verify-ca" and call["sslrootcert"] == str(bundle)
    assert call["host"] == f"churnguard-ops-drill-{RUN.drill_id}.rds.example"  # the copy, never the source


def test_a_local_run_configures_sslmode_disable_and_passes_no_root_certificate(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]]) -> None:
    validator, state = _validator(_settings(db_sslmode="disable", db_sslrootcert=None))
    _canned(monkeypatch, CheckResult(name="foreign_key_orphans", status="passed", detail="1 foreign keys checked"))

    validator.validate(state)

    (call,) = libpq
    assert call["sslmode"] == "disable" and "sslrootcert" not in call


def test_verification_without_the_bundle_fails_with_where_to_put_it(libpq: list[dict[str, Any]],
                                                                     tmp_path: Path) -> None:
    validator, state = _validator(_settings(db_sslrootcert=str(tmp_path / "missing.pem")))

    with pytest.raises(psycopg2.OperationalError, match="missing.pem does not exist") as raised:
        validator.measure(state)

    assert "rds-global-bundle.pem" in str(raised.value) and "global-bundle.pem" in str(raised.value)
    assert libpq == []  # refused before libpq is asked to connect without verification


def test_sslrootcert_system_is_passed_through_for_publicly_trusted_servers(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]]) -> None:
    validator, state = _validator(_settings(db_sslrootcert="system"))
    _canned(monkeypatch)

    validator.validate(state)

    assert libpq[0]["sslmode"] == "verify-full" and libpq[0]["sslrootcert"] == "system"


# -- which checks ran, and the baseline ----------------------------------------------------------------------

def test_validation_lists_checks_by_outcome_and_not_applicable_does_not_fail_integrity(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]]) -> None:
    documents = MemoryDocuments()
    documents.save(contracts.baseline_key("churnguard-prod", "snap"), {"tables": {"public.users": 10}})
    validator, state = _validator(_settings(db_sslmode="disable"), documents)
    _canned(monkeypatch,
            CheckResult(name="critical_tables_non_empty", status="passed", detail="1 critical tables exist"),
            CheckResult(name="foreign_key_orphans", status="not_applicable", detail="not applicable: no foreign keys"),
            CheckResult(name="amcheck", status="skipped", detail="skipped: extension unavailable"))

    result = validator.validate(state)

    assert result["data_integrity"] is True
    assert result["checks_ran"] == ["critical_tables_non_empty"]
    assert result["checks_not_applicable"] == ["foreign_key_orphans"]
    assert result["checks_skipped"] == ["amcheck"]
    assert result["baseline"] == {"present": True, "required": True, "tables": 1,
                                  "key": contracts.baseline_key("churnguard-prod", "snap")}


def test_validation_where_nothing_ran_has_no_data_integrity(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]]) -> None:
    validator, state = _validator(_settings(db_sslmode="disable"), MemoryDocuments())
    _canned(monkeypatch,
            CheckResult(name="foreign_key_orphans", status="not_applicable", detail="not applicable: no foreign keys"))

    result = validator.validate(state)

    assert result["data_integrity"] is False and result["checks_ran"] == []


@pytest.mark.parametrize(("mode", "required"), [("latest", True), ("fresh", False), ("snapshot", False)])
def test_a_missing_baseline_is_reported_and_required_only_for_the_latest_scheduled_backup(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]], mode: str, required: bool) -> None:
    validator, state = _validator(_settings(db_sslmode="disable"), MemoryDocuments(), mode=mode)
    _canned(monkeypatch, CheckResult(name="foreign_key_orphans", status="passed", detail="1 foreign keys checked"))

    baseline = validator.validate(state)["baseline"]

    assert baseline["present"] is False and baseline["required"] is required
    assert baseline["reason"]
