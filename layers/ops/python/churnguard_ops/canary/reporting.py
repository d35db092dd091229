"""What a finished or moving release tells the outside: EMF counts and the reason an execution failed."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from churnguard_ops.core.clock import parse_time

#: The Step Functions ``Cause`` is at most 32,768 characters; the summary keeps well inside it.
MAX_SUMMARY_CHARS = 30_000


def release_metrics(result: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(name, unit, value) for a task's result: a release started, promoted or rolled back, and the time
    from its start to that decision."""
    points: list[tuple[str, str, float]] = []
    if result.get("action") == "smoke" and result.get("step_index") == -1 and not result.get("smoke"):
        points.append(("ReleasesStarted", "Count", 1))
    outcome = result.get("outcome")
    if result.get("action") == "done" and outcome in ("promoted", "rolled_back"):
        points.append(("ReleasesPromoted" if outcome == "promoted" else "ReleasesRolledBack", "Count", 1))
        seconds = _seconds_between(result.get("started_at"), result.get("finished_at"))
        if seconds is not None:
            points.append(("TimeToDecisionSeconds", "Seconds", seconds))
    return points


def failure_summary(result: dict[str, Any]) -> str:
    """The reason and the decisions that led to a rollback, as the failed execution's Cause (JSON text):
    the Step Functions console shows it without opening any other document."""
    decisions = list(result.get("decisions") or [])
    summary: dict[str, Any] = {"outcome": result.get("outcome"), "reason": result.get("reason"),
                               "release_id": result.get("release_id"), "weight": result.get("weight"),
                               "decisions": decisions}
    text = json.dumps(summary, default=str)
    while len(text) > MAX_SUMMARY_CHARS and summary["decisions"]:
        summary["decisions"] = summary["decisions"][1:]  # the newest decisions say the most
        summary["decisions_omitted"] = len(decisions) - len(summary["decisions"])
        text = json.dumps(summary, default=str)
    return text[:MAX_SUMMARY_CHARS]


def _seconds_between(start: Any, end: Any) -> float | None:
    started: datetime | None = parse_time(start) if isinstance(start, str) else None
    finished: datetime | None = parse_time(end) if isinstance(end, str) else None
    return (finished - started).total_seconds() if started and finished else None
