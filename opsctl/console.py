"""Human output for opsctl: progress lines on stderr, summaries on stdout, JSON files with --out."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

_START = time.monotonic()
_STATUS_MARK = {"succeeded": "ok", "exists": "ok", "skipped": "--", "deferred": "..", "failed": "FAIL"}


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def write_json(out: str | None, name: str, payload: Any) -> Path | None:
    if not out:
        return None
    path = Path(out) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return path


def backup_summary(report: dict[str, Any]) -> str:
    """A readable table of one backup report (the backup handler's JSON result)."""
    lines = [f"Backup policy '{report['policy']}', slot {report['slot']}"]
    for outcome in report.get("outcomes", []):
        mark = _STATUS_MARK.get(outcome["status"], outcome["status"])
        lines.append(f"  [{mark:>4}] {outcome['action']:<8} {outcome['target']:<40} {outcome['detail']}")
    failing = [f for f in report.get("posture", []) if not f["passed"]]
    if report.get("posture"):
        checked = {f["instance_id"] for f in report["posture"]}
        lines.append(f"  posture: {len(checked)} instance(s) audited, {len(failing)} finding(s)")
        lines.extend(f"    ! {f['instance_id']}: {f['detail']}" for f in failing)
    return "\n".join(lines)
