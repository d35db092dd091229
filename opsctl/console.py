"""Human output for opsctl: progress lines on stderr, summaries on stdout, JSON files with --out."""
from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_START = time.monotonic()
_STATUS_MARK = {"succeeded": "ok", "exists": "ok", "skipped": "--", "deferred": "..", "failed": "FAIL"}
#: Longest silence while opsctl waits on something: an operator should never wonder whether it hangs.
HEARTBEAT_SECONDS = 8.0
_SUMMARY_FIELDS = 10  # fields of a non-backup result shown without --json
_VALUE_WIDTH = 100


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def still_running(what: str, *, every: float = HEARTBEAT_SECONDS,
                  detail: Callable[[], str] | None = None) -> Iterator[None]:
    """While the block runs, a progress line every ``every`` seconds: "still <what> (12 s[, detail])"."""
    done = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not done.wait(every):
            extra = detail() if detail else ""
            progress(f"  ... still {what} ({time.monotonic() - started:.0f} s{'; ' + extra if extra else ''})")

    thread = threading.Thread(target=beat, name="opsctl-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


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


def _short(value: Any) -> str:
    if isinstance(value, dict):
        scalars = [f"{k}={v}" for k, v in value.items() if not isinstance(v, (dict, list))]
        text = ", ".join(scalars) if scalars else f"{len(value)} field(s)"
    elif isinstance(value, list):
        text = f"{len(value)} item(s)"
    else:
        text = str(value)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 3] + "..."


def invocation_summary(function: str, event_file: str, ok: bool, payload: Any) -> str:
    """What `opsctl invoke` prints per event without --json: the outcome and the result's key fields."""
    lines = [f"{function} <- {event_file}: {'ok' if ok else 'FAILED'}"]
    if not ok:
        error = payload if isinstance(payload, dict) else {}
        message = str(error.get("errorMessage", payload)).strip().replace("\n", "\n    ")
        lines.append(f"  {error.get('errorType', 'error')}: {message}")
    elif isinstance(payload, dict) and {"policy", "slot", "outcomes"} <= payload.keys():
        lines.extend("  " + line for line in backup_summary(payload).splitlines())
    elif isinstance(payload, dict):
        fields = list(payload.items())
        lines.extend(f"  {key}: {_short(value)}" for key, value in fields[:_SUMMARY_FIELDS])
        if len(fields) > _SUMMARY_FIELDS:
            lines.append(f"  ... {len(fields) - _SUMMARY_FIELDS} more field(s); --json shows the full result")
    else:
        lines.append(f"  result: {_short(payload)}")
    return "\n".join(lines)
