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


def test_summary_shows_each_proven_proposal_its_sql_and_the_statements_it_could_not_replay():
    report = _report(CHECKS, {"present": True, "required": True})
    report["index_proof"] = {"status": "proven", "message": "1 of 1 proposal(s) proven on the copy", "proposals": [{
        "id": "p", "label": "events(org_id, kind)", "status": "proven", "speedup": 38.2, "before_ms": 2.9,
        "after_ms": 0.076, "index_bytes": 466944, "uses_index": True, "dropped": True,
        "sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_org_id_kind_idx ON public.events (org_id, kind);",
        "statements": [
            {"replayed": True, "text": "SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2",
             "before_ms": 2.9, "after_ms": 0.076, "before_plan": ["Seq Scan on events"],
             "after_plan": ["Index Only Scan using churnguard_ops_proof_1 on events"]},
            {"replayed": False, "text": "DELETE FROM events WHERE org_id = $1",
             "reason": "not a SELECT (starts with DELETE): never replayed"}]}]}
    lines = report_summary(report).splitlines()
    start = lines.index("  index proof: events(org_id, kind) 38.2x faster (2.9 ms -> 0.076 ms), 456 kB, "
                        "1 statement(s) not replayed (not a SELECT (starts with DELETE): never replayed)")
    assert lines[start + 1:start + 4] == [
        "    proposed: CREATE INDEX CONCURRENTLY IF NOT EXISTS events_org_id_kind_idx ON public.events (org_id, kind);",
        "    2.9 ms -> 0.076 ms (Seq Scan on events -> Index Only Scan using churnguard_ops_proof_1 on events): "
        "SELECT count(*) FROM events WHERE org_id = $1 AND kind = $2",
        "    not replayed: DELETE FROM events WHERE org_id = $1 (not a SELECT (starts with DELETE): never replayed)"]


def test_summary_says_when_the_advisor_has_not_advised_the_instance_yet():
    report = _report(CHECKS, {"present": True, "required": True})
    report["index_proof"] = {"status": "no_advice", "message": "no advice yet for churnguard-prod"}
    assert "  index proof: no advice yet for churnguard-prod" in report_summary(report).splitlines()
