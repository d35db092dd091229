"""Row-count baselines taken by backups connect to the source database over TLS, as drills do."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg2
import pytest

from churnguard_ops.backup.baselines import PostgresBaselineRecorder
from churnguard_ops.backup.settings import BackupSettings
from churnguard_ops.backup.wiring import build_backup_service
from churnguard_ops.core.fakes import MemoryDocuments, MemoryRds, StaticCredentials
from churnguard_ops.core.postgres import RDS_CA_BUNDLE
from tests.unit.fakes import instance


class _Connected(Exception):
    """Raised by the recording libpq once it has the connection's arguments (no SQL runs in a unit test)."""


@pytest.fixture
def libpq(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every psycopg2.connect call's keyword arguments."""
    calls: list[dict[str, Any]] = []

    def recording_connect(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise _Connected

    monkeypatch.setattr(psycopg2, "connect", recording_connect)
    return calls


def _wired_recorder(monkeypatch: pytest.MonkeyPatch, **env: str) -> PostgresBaselineRecorder:
    """The recorder the composition root builds from BACKUP_* variables, its AWS reads swapped for fakes."""
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "BACKUP_BUCKET": "backups",
                       "BACKUP_DB_INSTANCE_IDS": '["db1"]', "BACKUP_DB_SECRETS": '{"db1": "db1-secret"}',
                       **env}.items():
        monkeypatch.setenv(key, value)
    recorder = build_backup_service().baselines
    assert isinstance(recorder, PostgresBaselineRecorder)
    rds = MemoryRds()
    rds.add_instance(instance("db1", address="db1.rds.example", port=5432, db_name="app"))
    recorder.rds = rds
    recorder.credentials = StaticCredentials({"db1-secret": {"username": "reader", "password": "pw"}})
    recorder.documents = MemoryDocuments()
    return recorder


def test_backup_database_tls_defaults_to_verify_full_against_the_rds_bundle_in_the_layer() -> None:
    settings = BackupSettings(bucket="backups")
    assert settings.db_sslmode == "verify-full"
    assert settings.db_sslrootcert == RDS_CA_BUNDLE  # the bundle the drill verifies against


def test_backup_sslmode_and_sslrootcert_from_the_environment_reach_libpq_when_a_baseline_is_taken(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]], tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    recorder = _wired_recorder(monkeypatch, BACKUP_DB_SSLMODE="verify-ca", BACKUP_DB_SSLROOTCERT=str(bundle))

    with pytest.raises(_Connected):
        recorder.record("db1", "churnguard-ops-db1-database-20261128t1000")

    (call,) = libpq
    assert (call["sslmode"], call["sslrootcert"]) == ("verify-ca", str(bundle))
    assert (call["host"], call["port"], call["dbname"]) == ("db1.rds.example", 5432, "app")


def test_backup_sslmode_disable_connects_without_tls_or_a_root_certificate(
        monkeypatch: pytest.MonkeyPatch, libpq: list[dict[str, Any]]) -> None:
    recorder = _wired_recorder(monkeypatch, BACKUP_DB_SSLMODE="disable")

    with pytest.raises(_Connected):
        recorder.record("db1", "churnguard-ops-db1-database-20261128t1000")

    (call,) = libpq
    assert call["sslmode"] == "disable" and "sslrootcert" not in call


def test_backup_sslmode_must_be_a_libpq_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUP_DB_SSLMODE", "verify_full")
    with pytest.raises(ValueError, match="db_sslmode"):
        BackupSettings(bucket="backups")
