from datetime import datetime, timezone

import pytest

from churnguard_ops.backup.naming import snapshot_id
from churnguard_ops.backup.policy import DEFAULT_POLICIES, BackupPolicy
from churnguard_ops.backup.settings import BackupSettings


def test_seed_defaults_are_the_policies_of_the_seed_table():
    assert DEFAULT_POLICIES["database"] == BackupPolicy(schedule_minutes=60, retention_days=30, cross_region=True)
    assert DEFAULT_POLICIES["application_data"] == BackupPolicy(schedule_minutes=1440, retention_days=90,
                                                                cross_region=False)
    assert DEFAULT_POLICIES["configuration"] == BackupPolicy(schedule_minutes=1440, retention_days=365,
                                                             cross_region=True)
    assert all(p.encrypted for p in DEFAULT_POLICIES.values())


def test_event_times_within_one_schedule_period_map_to_the_same_slot():
    hourly = DEFAULT_POLICIES["database"]
    early = hourly.slot_of(datetime(2026, 11, 28, 10, 0, 3, tzinfo=timezone.utc))
    late = hourly.slot_of(datetime(2026, 11, 28, 10, 59, 59, tzinfo=timezone.utc))
    assert early == late == datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
    assert hourly.slot_of(datetime(2026, 11, 28, 11, 0, tzinfo=timezone.utc)) != early


def test_snapshot_id_is_a_valid_rds_identifier_derived_from_the_slot():
    slot = datetime(2026, 11, 28, 10, tzinfo=timezone.utc)
    assert snapshot_id("ChurnGuard-Prod", "database", slot) == "churnguard-ops-churnguard-prod-database-20261128t1000"
    assert "--" not in snapshot_id("a_b", "application_data", slot)


def test_settings_reject_relative_ssm_paths_and_fill_missing_policies(monkeypatch):
    monkeypatch.setenv("BACKUP_BUCKET", "b")
    monkeypatch.setenv("BACKUP_POLICIES", '{"database": {"schedule_minutes": 15, "retention_days": 7}}')
    settings = BackupSettings()
    assert settings.policies["database"].schedule_minutes == 15
    assert settings.policies["configuration"] == DEFAULT_POLICIES["configuration"]
    monkeypatch.setenv("BACKUP_SSM_PATHS", '["churnguard/"]')
    with pytest.raises(ValueError, match="must start with '/'"):
        BackupSettings()
