"""The drill report: the seed's four verdicts, every check, stage timings, RTO and RPO. Pure."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.settings import DrillSettings


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None


def failure_reason(error: dict[str, Any] | None) -> str | None:
    """Step Functions puts {"Error": name, "Cause": json-of-the-Lambda-error} under $.error."""
    if not error:
        return None
    cause = error.get("Cause", "")
    try:
        cause = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        pass
    return f"{error.get('Error', 'Error')}: {cause}"


def build_report(state: DrillState, settings: DrillSettings, now: datetime) -> dict[str, Any]:
    """Also for a drill that failed before Plan: it still needs an id, a source and an alert."""
    plan, restore = state.plan, state.restore
    validation, performance, cleanup = state.validation or {}, state.performance or {}, state.cleanup
    requested = plan.requested_at if plan else None
    restore_requested = restore.requested_at if restore else None
    available = restore.wait.observed_at if restore and restore.wait.ready else None
    validated = _when(validation.get("validated_at"))
    cleaned = _when(cleanup.get("cleaned_at")) if cleanup else None
    rto = _seconds(restore_requested, validated)
    point_time = plan.recovery_point.time if plan else None
    rpo = _seconds(point_time, requested)
    verdicts = {
        "snapshot_exists": plan is not None,
        "can_restore": available is not None,
        "data_integrity": bool(validation.get("data_integrity")),
        "performance_acceptable": bool(performance.get("performance_acceptable")),
        "rto_met": rto is not None and rto <= settings.rto_minutes * 60,
        "rpo_met": rpo is not None and rpo <= settings.rpo_minutes * 60,
        "cleaned_up": cleanup is not None and state.cleanup_error is None,
    }
    # RPO is measured and reported but does not fail the drill: a snapshot drill's recovery point is as
    # old as the backup schedule makes it; the backup freshness alarms are what police RPO.
    passed = all(v for k, v in verdicts.items() if k != "rpo_met")
    failed_checks = [c for c in validation.get("checks", []) if c.get("status") in ("failed", "error")]
    slow = [q for q in performance.get("queries", []) if not q.get("passed")]
    return {
        "schema": "churnguard-ops/drill-report/v1",
        "drill_id": plan.drill_id if plan else (state.drill_id or f"unplanned-{now:%Y%m%dt%H%M%S}"),
        "source_instance": plan.source_instance if plan else (
            state.source_instance or (settings.db_instance_ids[0] if settings.db_instance_ids else "unknown")),
        "mode": state.mode,
        "target_region": state.target_region,
        "region": plan.region if plan else None,
        "recovery_point": plan.recovery_point.model_dump(mode="json") if plan else None,
        "temp_instance_id": plan.temp_instance_id if plan else None,
        "passed": passed,
        "verdicts": verdicts,
        "failure": failure_reason(state.error),
        "cleanup_failure": failure_reason(state.cleanup_error),
        "failed_checks": [f"{c['name']}: {c.get('detail', '')}" for c in failed_checks],
        "slow_queries": [f"{q['name']}: {q.get('error') or str(q.get('median_ms')) + ' ms'} "
                         f"(threshold {q.get('threshold_ms')} ms)" for q in slow],
        "rto": {"seconds": rto, "target_seconds": settings.rto_minutes * 60, "met": verdicts["rto_met"],
                "measured_as": "restore requested -> data validated"},
        "rpo": {"seconds": rpo, "target_seconds": settings.rpo_minutes * 60, "met": verdicts["rpo_met"],
                "measured_as": "drill requested - recovery point time"},
        "timings": {
            "requested_at": requested.isoformat() if requested else None,
            "restore_requested_at": restore_requested.isoformat() if restore_requested else None,
            "available_at": available.isoformat() if available else None,
            "validated_at": validated.isoformat() if validated else None,
            "cleaned_at": cleaned.isoformat() if cleaned else None,
            "restore_seconds": _seconds(restore_requested, available),
            "validate_seconds": _seconds(available, validated),
            "cleanup_seconds": _seconds(validated or available or restore_requested, cleaned),
        },
        "checks": validation.get("checks", []),
        "queries": performance.get("queries", []),
        "cleanup": cleanup,
        "reported_at": now.isoformat(),
    }


def summary_line(report: dict[str, Any]) -> str:
    verdict = "PASSED" if report["passed"] else "FAILED"
    rto, rpo = report["rto"]["seconds"], report["rpo"]["seconds"]
    parts = [f"Restore drill {report['drill_id']} of {report['source_instance']} {verdict}",
             f"RTO {rto if rto is not None else '-'}s/{report['rto']['target_seconds']:.0f}s",
             f"RPO {rpo if rpo is not None else '-'}s/{report['rpo']['target_seconds']:.0f}s"]
    if report["failure"]:
        parts.append(report["failure"])
    if report["failed_checks"]:
        parts.append("failed checks: " + "; ".join(report["failed_checks"]))
    return " | ".join(parts)
