"""The recoverability probe measures restorable lag and posture between backup ticks."""
from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from churnguard_ops.backup.events import ProbeTick
from churnguard_ops.backup.recoverability import RecoverabilityProbe
from tests.events import load_event
from tests.unit.fakes import FakeSnapshotStore, RecordingMetrics, instance
from tests.unit.test_backup_service import NOW


def _probe(*instances, ids=None):
    rds = FakeSnapshotStore("us-east-1", list(instances), clock=lambda: NOW)
    metrics = RecordingMetrics()
    probe = RecoverabilityProbe(ids or [i.instance_id for i in instances], rds, metrics, lambda: NOW)
    return probe, rds, metrics


def test_restorable_lag_is_measured_from_the_instances_latest_restorable_time():
    probe, _, metrics = _probe(instance("db1", latest_restorable_time=NOW - timedelta(minutes=7)))
    report = probe.run()
    assert metrics.value("RestorableLagSeconds", DBInstanceIdentifier="db1") == 7 * 60
    assert metrics.value("PostureViolations", DBInstanceIdentifier="db1") == 0
    assert report.instances[0].restorable_lag_seconds == 420 and not report.failures


def test_without_automated_backups_there_is_no_lag_datapoint_and_posture_says_why():
    probe, _, metrics = _probe(instance("db1", backup_retention_days=0, latest_restorable_time=None))
    report = probe.run()
    assert not [p for p in metrics.points if p[0] == "RestorableLagSeconds"], "missing data: the alarm breaches"
    assert metrics.value("PostureViolations", DBInstanceIdentifier="db1") == 1
    assert report.instances[0].posture_violations == ["backup_retention"]
    assert "no point-in-time restore" in report.summary()


def test_an_instance_that_cannot_be_described_is_reported_and_the_others_still_measured():
    probe, rds, metrics = _probe(*(instance(db, latest_restorable_time=NOW) for db in ("db1", "db2")))
    rds.throttle_instances.add("db1")
    report = probe.run()
    assert [i.instance_id for i in report.failures] == ["db1"] and "Throttling" in report.failures[0].error
    assert metrics.value("RestorableLagSeconds", DBInstanceIdentifier="db2") == 0


def test_the_probe_schedule_event_is_strict():
    assert ProbeTick.model_validate(load_event("backup/probe/scheduled-tick.json")).detail is not None
    with pytest.raises(ValidationError) as exc:
        ProbeTick.model_validate(load_event("backup/probe/scheduled-tick.json", detail={"policy": "database"}))
    assert exc.value.errors()[0]["loc"][:2] == ("detail", "policy")
    with pytest.raises(ValidationError):
        ProbeTick.model_validate(load_event("backup/probe/scheduled-tick.json", time=12345))
