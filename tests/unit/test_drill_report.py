"""The drill report's verdicts and RTO/RPO arithmetic."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.report import build_report, summary_line
from churnguard_ops.drill.settings import DrillSettings
from tests.unit.drill_fakes import T0

SETTINGS = DrillSettings(rto_minutes=30, rpo_minutes=15)


def _state(**parts) -> DrillState:
    requested = T0 + timedelta(minutes=10)
    wait = {"ready": True, "waited_seconds": 0, "next_wait_seconds": 1, "status": "available"}
    state = {
        "mode": "latest",
        "plan": {"drill_id": "d1", "source_instance": "churnguard-prod", "region": "us-east-1",
                 "target_region": "primary", "temp_instance_id": "churnguard-ops-drill-d1",
                 "expires_at": (T0 + timedelta(hours=6)).isoformat(), "requested_at": requested.isoformat(),
                 "poll_seconds": 1, "max_wait_seconds": 60, "wait": wait,
                 "recovery_point": {"kind": "snapshot", "snapshot_id": "s1", "time": T0.isoformat()}},
        "restore": {"instance_id": "churnguard-ops-drill-d1", "requested_at": requested.isoformat(),
                    "wait": {**wait, "observed_at": (requested + timedelta(minutes=12)).isoformat()}},
        "validation": {"data_integrity": True, "validated_at": (requested + timedelta(minutes=14)).isoformat(),
                       "checks": [{"name": "foreign_key_orphans", "status": "passed", "detail": "ok"}]},
        "performance": {"performance_acceptable": True, "queries": []},
        "cleanup": {"cleaned_at": (requested + timedelta(minutes=20)).isoformat()},
    }
    state.update(parts)
    return DrillState.model_validate(state)


def test_healthy_drill_passes_with_rto_from_restore_request_to_availability_and_rpo_from_recovery_point():
    report = build_report(_state(), SETTINGS, T0 + timedelta(hours=1))
    assert report["passed"] is True
    # No RDS event given: available when the poll saw it (12 min), labelled so.
    assert report["rto"]["seconds"] == 12 * 60 and report["rto"]["met"] is True and report["rto_source"] == "poll"
    assert report["rpo"]["seconds"] == 10 * 60 and report["rpo"]["met"] is True
    assert report["timings"]["restore_seconds"] == 12 * 60
    assert set(report["verdicts"]) >= {"snapshot_exists", "can_restore", "data_integrity", "performance_acceptable"}


def test_failed_check_fails_the_drill_and_names_the_check():
    validation = {"data_integrity": False, "validated_at": (T0 + timedelta(minutes=24)).isoformat(),
                  "checks": [{"name": "foreign_key_orphans", "status": "failed",
                              "detail": "public.customers: 3 orphan rows (customers_organization_id_fkey)"}]}
    report = build_report(_state(validation=validation), SETTINGS, T0)
    assert report["passed"] is False and report["verdicts"]["data_integrity"] is False
    assert report["failed_checks"] == ["foreign_key_orphans: public.customers: 3 orphan rows "
                                       "(customers_organization_id_fkey)"]
    assert "FAILED" in summary_line(report) and "foreign_key_orphans" in summary_line(report)


def test_restore_slower_than_the_rto_fails_the_drill():
    requested = T0 + timedelta(minutes=10)
    slow = {"instance_id": "churnguard-ops-drill-d1", "requested_at": requested.isoformat(),
            "wait": {"ready": True, "status": "available",
                     "observed_at": (requested + timedelta(minutes=31)).isoformat()}}
    report = build_report(_state(restore=slow), SETTINGS, T0)
    assert report["rto"]["met"] is False and report["passed"] is False


def test_step_failure_is_reported_with_the_lambda_error_message_and_cleanup_still_counts():
    error = {"Error": "RestoreTimedOut", "Cause": json.dumps({"errorMessage": "instance still 'creating' after 60s"})}
    report = build_report(_state(restore=None, validation=None, performance=None, error=error), SETTINGS, T0)
    assert report["passed"] is False
    assert report["failure"] == "RestoreTimedOut: instance still 'creating' after 60s"
    assert report["verdicts"]["can_restore"] is False and report["verdicts"]["cleaned_up"] is True


def test_cleanup_failure_fails_the_drill():
    report = build_report(_state(cleanup=None, cleanup_error={"Error": "Conflict", "Cause": "{}"}), SETTINGS, T0)
    assert report["verdicts"]["cleaned_up"] is False and report["passed"] is False


def test_a_drill_that_failed_before_plan_still_gets_an_id_a_source_and_an_alert_before_history():
    from churnguard_ops.drill.reporter import DrillReporter
    from tests.unit.fakes import RecordingMetrics

    settings = DrillSettings(db_instance_ids=["churnguard-prod"])
    error = {"Error": "NoRecoveryPoint", "Cause": json.dumps({"errorMessage": "no available backup snapshot"})}
    report = build_report(DrillState.model_validate({"error": error}), settings, T0)
    assert report["drill_id"] == "unplanned-20261128t100000" and report["source_instance"] == "churnguard-prod"
    calls = []

    class Alerts:
        def publish(self, subject, message):
            calls.append("alert")

    class BrokenHistory:
        def record(self, item):
            calls.append("history")
            raise RuntimeError("ValidationException")

    metrics = RecordingMetrics()
    with pytest.raises(RuntimeError):
        DrillReporter(None, BrokenHistory(), Alerts(), metrics).publish(report)
    assert calls == ["alert", "history"]
    assert metrics.value("DrillSucceeded", SourceDBInstance="churnguard-prod") == 0.0


def test_slow_query_line_names_the_threshold_not_the_slowest_run():
    performance = {"performance_acceptable": False, "queries": [
        {"name": "q", "median_ms": 120.0, "max_ms": 180.0, "threshold_ms": 100.0, "passed": False}]}
    report = build_report(_state(performance=performance), SETTINGS, T0)
    assert report["slow_queries"] == ["q: 120.0 ms (threshold 100.0 ms)"]


# -- which checks actually ran ----------------------------------------------------------------------------

def _checks(*pairs: tuple[str, str, str]) -> list[dict]:
    return [{"name": n, "status": s, "detail": d} for n, s, d in pairs]


def test_report_lists_which_checks_ran_were_not_applicable_or_skipped_and_the_summary_names_them():
    checks = _checks(("critical_tables_non_empty", "passed", "4 critical tables exist and are non-empty"),
                     ("foreign_key_orphans", "not_applicable", "not applicable: no foreign keys to check"),
                     ("row_counts_vs_baseline", "not_applicable", "not applicable: no baseline row counts"),
                     ("amcheck", "skipped", "skipped: extension unavailable"))
    validation = {"data_integrity": True, "validated_at": (T0 + timedelta(minutes=24)).isoformat(),
                  "checks": checks, "baseline": {"present": True, "required": True}}
    report = build_report(_state(validation=validation), SETTINGS, T0)

    assert report["checks_ran"] == ["critical_tables_non_empty"]
    assert report["checks_not_applicable"] == ["foreign_key_orphans", "row_counts_vs_baseline"]
    assert report["checks_skipped"] == ["amcheck"]
    assert report["passed"] is True  # not applicable / skipped do not fail the drill by themselves
    line = summary_line(report)
    assert "checks ran: critical_tables_non_empty" in line
    assert "not applicable: foreign_key_orphans (no foreign keys to check)" in line
    assert "skipped: amcheck (extension unavailable)" in line


def test_a_drill_where_no_check_ran_has_no_data_integrity():
    checks = _checks(("foreign_key_orphans", "not_applicable", "not applicable: no foreign keys to check"),
                     ("amcheck", "skipped", "skipped: extension unavailable"))
    # Validation results written before the lists existed are still read from the checks themselves.
    validation = {"data_integrity": True, "validated_at": (T0 + timedelta(minutes=24)).isoformat(), "checks": checks}
    report = build_report(_state(validation=validation), SETTINGS, T0)

    assert report["verdicts"]["data_integrity"] is False and report["passed"] is False
    assert report["checks_ran"] == []
    assert "no integrity check ran" in summary_line(report)


def test_a_missing_baseline_is_its_own_verdict_and_fails_a_drill_of_a_scheduled_backup():
    checks = _checks(("foreign_key_orphans", "passed", "5 foreign keys checked, no orphan rows"),
                     ("row_counts_vs_baseline", "not_applicable", "not applicable: no baseline row counts"))
    validation = {"data_integrity": True, "validated_at": (T0 + timedelta(minutes=24)).isoformat(), "checks": checks,
                  "baseline": {"present": False, "required": True,
                               "reason": "no baseline recorded for snapshot s1 (baselines/churnguard-prod/s1.json)"}}
    report = build_report(_state(validation=validation), SETTINGS, T0)

    assert report["verdicts"]["baseline_present"] is False and report["passed"] is False
    assert report["baseline"]["reason"].startswith("no baseline recorded for snapshot s1")
    assert "baseline missing" in summary_line(report)


def test_a_fresh_drill_shows_the_missing_baseline_without_failing_on_it():
    checks = _checks(("foreign_key_orphans", "passed", "5 foreign keys checked, no orphan rows"),
                     ("row_counts_vs_baseline", "not_applicable", "not applicable: no baseline row counts"))
    validation = {"data_integrity": True, "validated_at": (T0 + timedelta(minutes=24)).isoformat(), "checks": checks,
                  "baseline": {"present": False, "required": False,
                               "reason": "a fresh drill snapshot has no baseline (baselines are recorded by backups)"}}
    report = build_report(_state(mode="fresh", validation=validation), SETTINGS, T0)

    assert report["verdicts"]["baseline_present"] is False and report["passed"] is True
    assert "baseline missing (not required: a fresh drill snapshot has no baseline" in summary_line(report)


# -- RPO ----------------------------------------------------------------------------------------------------

def test_a_fresh_drill_reports_rpo_zero_with_the_reason_never_negative():
    requested = T0 + timedelta(minutes=10)
    state = _state(mode="fresh")
    # The fresh snapshot is created after the drill was requested: its time is later than requested_at.
    state.plan.recovery_point.time = requested + timedelta(seconds=42)
    report = build_report(state, SETTINGS, T0 + timedelta(hours=1))

    assert report["rpo"]["seconds"] == 0 and report["rpo"]["met"] is True
    assert "fresh" in report["rpo"]["reason"]
    line = summary_line(report)
    assert "RPO 0s" in line and "-42" not in line


def test_a_recovery_point_later_than_the_request_is_never_a_negative_rpo():
    state = _state()
    state.plan.recovery_point.time = state.plan.requested_at + timedelta(seconds=5)  # clocks disagree
    report = build_report(state, SETTINGS, T0)

    assert report["rpo"]["seconds"] == 0 and "later than the drill request" in report["rpo"]["reason"]
