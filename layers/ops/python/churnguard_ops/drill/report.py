"""The drill report: the seed's four verdicts, every check, stage timings, RTO and RPO, the index proof. Pure."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from churnguard_ops.drill.model import DrillState
from churnguard_ops.drill.settings import DrillSettings
from churnguard_ops.drill.timing import RestoreTiming


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


def _checks_by_outcome(validation: dict[str, Any]) -> dict[str, list[str]]:
    """Which checks ran (passed or failed), found nothing to check, or could not run here."""
    checks = validation.get("checks", [])
    derived = {"checks_ran": [c["name"] for c in checks if c.get("status") in ("passed", "failed")],
               "checks_not_applicable": [c["name"] for c in checks if c.get("status") == "not_applicable"],
               "checks_skipped": [c["name"] for c in checks if c.get("status") == "skipped"]}
    return {key: list(validation.get(key, names)) for key, names in derived.items()}


def _baseline(validation: dict[str, Any]) -> dict[str, Any]:
    info = validation.get("baseline")
    if isinstance(info, dict):
        return info
    if info == "present":  # a validation result written before the baseline became a verdict
        return {"present": True, "required": False}
    return {"present": False, "required": False, "reason": "not validated" if not validation else "missing"}


def _rpo(state: DrillState, requested: datetime | None) -> tuple[float | None, str | None]:
    """Drill requested - recovery point time; never negative, and a reason wherever it is not that."""
    plan = state.plan
    if plan is not None and (state.mode == "fresh" or plan.drill_snapshot_id):
        return 0, "fresh snapshot taken for this drill: nothing older than the drill is at risk"
    seconds = _seconds(plan.recovery_point.time if plan else None, requested)
    if seconds is not None and seconds < 0:
        return 0, f"recovery point is {-seconds:g}s later than the drill request (clocks disagree)"
    return seconds, None


def build_report(state: DrillState, settings: DrillSettings, now: datetime, *, drill_id: str | None = None,
                 execution_arn: str | None = None, timing: RestoreTiming | None = None) -> dict[str, Any]:
    """Also for a drill that failed before Plan: it still needs an id, a source and an alert.

    ``drill_id`` is the execution's (the only id this report may be filed under); ``state`` holds only
    this drill's plan and restore. RTO is restore requested -> instance available, available as RDS
    logged it (``timing``, source "rds_event") or else as the first poll saw it (source "poll").

    Verdicts: data_integrity needs no failed or errored check and at least one check that ran; checks
    that were not applicable or skipped are listed but do not fail it. baseline_present is always shown
    and fails the drill only where a baseline is required (the latest scheduled backup; see validation).
    """
    plan, restore = state.plan, state.restore
    validation, performance, cleanup = state.validation or {}, state.performance or {}, state.cleanup
    requested = plan.requested_at if plan else None
    restore_requested = restore.requested_at if restore else None
    polled = restore.wait.observed_at if restore and restore.wait.ready else None
    timing = timing or RestoreTiming()
    from_event = polled is not None and timing.source == "rds_event" and timing.available_at is not None
    available = timing.available_at if from_event else polled
    rto_source = ("rds_event" if from_event else "poll") if available is not None else None
    validated = _when(validation.get("validated_at"))
    cleaned = _when(cleanup.get("cleaned_at")) if cleanup else None
    rto = _seconds(restore_requested, available)
    rpo, rpo_reason = _rpo(state, requested)
    outcomes = _checks_by_outcome(validation)
    baseline = _baseline(validation)
    verdicts = {
        "snapshot_exists": plan is not None,
        "can_restore": polled is not None,
        "data_integrity": bool(validation.get("data_integrity")) and bool(outcomes["checks_ran"]),
        "performance_acceptable": bool(performance.get("performance_acceptable")),
        "rto_met": rto is not None and rto <= settings.rto_minutes * 60,
        "rpo_met": rpo is not None and rpo <= settings.rpo_minutes * 60,
        "cleaned_up": cleanup is not None and state.cleanup_error is None,
        "baseline_present": bool(baseline.get("present")),
    }
    # RPO is measured and reported but does not fail the drill: a snapshot drill's recovery point is as
    # old as the backup schedule makes it; the backup freshness alarms are what police RPO.
    passed = (all(v for k, v in verdicts.items() if k not in ("rpo_met", "baseline_present"))
              and (verdicts["baseline_present"] or not baseline.get("required")))
    failed_checks = [c for c in validation.get("checks", []) if c.get("status") in ("failed", "error")]
    slow = [q for q in performance.get("queries", []) if not q.get("passed")]
    return {
        "schema": "churnguard-ops/drill-report/v1",
        "drill_id": drill_id or (plan.drill_id if plan else f"unplanned-{now:%Y%m%dt%H%M%S}"),
        "execution_arn": execution_arn,
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
        **outcomes,
        "baseline": baseline,
        "slow_queries": [f"{q['name']}: {q.get('error') or str(q.get('median_ms')) + ' ms'} "
                         f"(threshold {q.get('threshold_ms')} ms)" for q in slow],
        "rto": {"seconds": rto, "target_seconds": settings.rto_minutes * 60, "met": verdicts["rto_met"],
                "measured_as": "restore requested -> instance available" + _AVAILABLE_BY.get(rto_source or "", ""),
                **({"event": timing.event} if from_event and timing.event else {}),
                **({"note": timing.note} if rto_source == "poll" and timing.note else {})},
        "rto_source": rto_source,
        "rpo": {"seconds": rpo, "target_seconds": settings.rpo_minutes * 60, "met": verdicts["rpo_met"],
                "measured_as": "drill requested - recovery point time",
                **({"reason": rpo_reason} if rpo_reason else {})},
        "timings": {
            "requested_at": requested.isoformat() if requested else None,
            "restore_requested_at": restore_requested.isoformat() if restore_requested else None,
            "available_at": available.isoformat() if available else None,
            "available_polled_at": polled.isoformat() if polled else None,
            "validated_at": validated.isoformat() if validated else None,
            "cleaned_at": cleaned.isoformat() if cleaned else None,
            "restore_seconds": _seconds(restore_requested, available),
            "validate_seconds": _seconds(polled, validated),  # validation starts after the poll
            "cleanup_seconds": _seconds(validated or available or restore_requested, cleaned),
        },
        "checks": validation.get("checks", []),
        "queries": performance.get("queries", []),
        # Advisory: shown next to the verdicts, never one of them.
        "index_proof": state.index_proof,
        "cleanup": cleanup,
        "reported_at": now.isoformat(),
    }


_AVAILABLE_BY = {"rds_event": " (RDS event)", "poll": " (first poll that saw it)"}


def _reason(check: dict[str, Any]) -> str:
    detail = str(check.get("detail", ""))
    for prefix in ("not applicable: ", "skipped: "):
        detail = detail.removeprefix(prefix)
    return detail


def summary_line(report: dict[str, Any]) -> str:
    verdict = "PASSED" if report["passed"] else "FAILED"
    rto, rpo = report["rto"]["seconds"], report["rpo"]["seconds"]
    rpo_reason = report["rpo"].get("reason")
    rto_source = report.get("rto_source")
    parts = [f"Restore drill {report['drill_id']} of {report['source_instance']} {verdict}",
             f"RTO {'-' if rto is None else f'{rto:g}'}s/{report['rto']['target_seconds']:.0f}s"
             + (f" (from {'the RDS event' if rto_source == 'rds_event' else 'polling'})" if rto_source else ""),
             f"RPO {'-' if rpo is None else f'{rpo:g}'}s/{report['rpo']['target_seconds']:.0f}s"
             + (f" ({rpo_reason})" if rpo_reason else "")]
    if report["failure"]:
        parts.append(report["failure"])
    if report["failed_checks"]:
        parts.append("failed checks: " + "; ".join(report["failed_checks"]))
    checks = {c["name"]: c for c in report.get("checks", [])}
    validated = bool(report.get("timings", {}).get("validated_at"))
    if report.get("checks_ran"):
        parts.append("checks ran: " + ", ".join(report["checks_ran"]))
    elif validated:
        parts.append("no integrity check ran")
    for key, label in (("checks_not_applicable", "not applicable"), ("checks_skipped", "skipped")):
        if report.get(key):
            parts.append(f"{label}: " + "; ".join(f"{name} ({_reason(checks.get(name, {}))})"
                                                 for name in report[key]))
    baseline = report.get("baseline") or {}
    if not baseline.get("present") and validated:
        required = "required" if baseline.get("required") else "not required"
        parts.append(f"baseline missing ({required}: {baseline.get('reason', 'unknown')})")
    proof = proof_lines(report.get("index_proof"))
    if proof:
        parts.append("index proof: " + "; ".join(proof))
    return " | ".join(parts)


def _number(value: float) -> str:
    """2.9, 0.08, 38.2, 1234: three significant digits, never an exponent."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if value >= 0.001 else "0"


def size_text(size: int | None) -> str:
    """Bytes as pg_size_pretty writes them (456 kB)."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 10 * 1024:
            return f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.0f} TB"


def proposal_line(proof: dict[str, Any]) -> str:
    """``events(org_id, kind) 38.2x faster (2.9 ms -> 0.08 ms), 456 kB`` or why it was not proven."""
    label = proof.get("label") or proof.get("id", "?")
    if proof.get("status") != "proven":
        return f"{label}: {str(proof.get('status', 'error')).replace('_', ' ')} ({proof.get('detail') or 'no detail'})"
    speedup, before, after = proof["speedup"], proof["before_ms"], proof["after_ms"]
    verdict = f"{_number(speedup)}x faster" if speedup >= 1 else f"{_number(1 / speedup)}x SLOWER"
    line = (f"{label} {verdict} ({_number(before)} ms -> {_number(after)} ms), {size_text(proof.get('index_bytes'))}"
            + ("" if proof.get("uses_index") else ", plan does not use the index"))
    skipped = [s for s in proof.get("statements", []) if not s.get("replayed")]
    if skipped:
        line += f", {len(skipped)} statement(s) not replayed ({skipped[0].get('reason')})"
    if proof.get("dropped") is False:
        line += ", proof index NOT dropped"
    return line


def proof_lines(section: dict[str, Any] | None) -> list[str]:
    """The index proof in a few lines: one per proposal, or the section's message (no advice, disabled...)."""
    if not section:
        return []
    if section.get("status") != "proven":
        return [str(section.get("message", section.get("status")))]
    lines = [proposal_line(p) for p in section.get("proposals", [])]
    if section.get("left_out"):
        lines.append(f"{section['left_out']} more proposal(s) not tried (drill.max_index_proposals)")
    return lines
