"""opsctl's drill summary shows what the report says about checks, the baseline and where the RTO came from."""
from __future__ import annotations

from datetime import timedelta

from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.report import build_report
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.timing import RestoreTiming
from opsctl.drill_runner import report_summary
from tests.unit.drill_fakes import T0

REQUESTED = T0 + timedelta(minutes=10)


def _report(checks: list[dict], baseline: dict, timing: RestoreTiming | None = None) -> dict:
    wait = {"ready": True, "status": "available"}
    state = DrillState.model_validate({
        "mode": "latest",
        "plan": {"drill_id": "d1", "source_instance": "churnguard-prod", "region": "us-east-1",
                 "target_region": "primary", "temp_instance_id": "churnguard-ops-drill-d1",
                 "expires_at": (T0 + timedelta(hours=6)).isoformat(), "requested_at": REQUESTED.isoformat(),
                 "poll_seconds": 1, "max_wait_seconds": 60, "wait": {**wait, "observed_at": REQUESTED.isoformat()},
                 "recovery_point": {"kind": "snapshot", "snapshot_id": "s1", "time": T0.isoformat()}},
        "restore": {"instance_id": "churnguard-ops-drill-d1", "requested_at": REQUESTED.isoformat(),
                    "wait": {**wait, "observed_at": (REQUESTED + timedelta(minutes=12)).isoformat()}},
        "validation": {"data_integrity": True, "validated_at": (REQUESTED + timedelta(minutes=14)).isoformat(),
                       "checks": checks, "baseline": baseline},
        "performance": {"performance_acceptable": True, "queries": []},
        "cleanup": {"cleaned_at": (REQUESTED + timedelta(minutes=20)).isoformat()},
    })
    return build_report(state, DrillSettings(), REQUESTED + timedelta(hours=1), timing=timing)


CHECKS = [
    {"name": "foreign_key_orphans", "status": "passed", "detail": "12 foreign keys, no orphans"},
    {"name": "sequences_not_behind", "status": "not_applicable", "detail": "not applicable: no sequences"},
    {"name": "row_counts_vs_baseline", "status": "skipped", "detail": "skipped: no baseline for s1"},
]


def test_summary_lists_checks_that_ran_not_applicable_and_skipped_with_reasons():
    lines = report_summary(_report(CHECKS, {"present": True, "required": True})).splitlines()
    assert "  checks ran: foreign_key_orphans" in lines
    assert "  not applicable: sequences_not_behind (no sequences)" in lines
    assert "  skipped: row_counts_vs_baseline (no baseline for s1)" in lines
    assert "  baseline: present, required" in lines


def test_summary_says_when_the_baseline_is_missing_and_whether_it_was_required():
    summary = report_summary(_report(CHECKS, {"present": False, "required": False, "reason": "no baseline for s1"}))
    assert "  baseline: MISSING (no baseline for s1), not required" in summary.splitlines()


def test_summary_says_where_the_rto_came_from():
    event = RestoreTiming(available_at=REQUESTED + timedelta(minutes=9), source="rds_event",
                          event="Restored from snapshot s1")
    from_event = report_summary(_report(CHECKS, {"present": True}, event))
    assert "RTO 540.0s" in from_event and "from the RDS restore event" in from_event
    polled = report_summary(_report(CHECKS, {"present": True}, RestoreTiming(source="poll", note="no event")))
    assert "RTO 720.0s" in polled and "from polling" in polled and "    no event" in polled.splitlines()


def test_summary_says_when_no_check_ran():
    summary = report_summary(_report([CHECKS[1]], {"present": True}))
    assert "  checks ran: none" in summary.splitlines()
