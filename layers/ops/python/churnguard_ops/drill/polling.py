"""Wait-loop arithmetic: back-off between polls and the overall time bound. Pure."""
from __future__ import annotations

from datetime import datetime

from churnguard_ops.drill.errors import RestoreFailed, RestoreTimedOut
from churnguard_ops.drill.model import WaitStatus

BACKOFF = 1.5
MAX_INTERVAL_FACTOR = 8  # never wait more than 8x the configured poll interval between polls

SNAPSHOT_FAILED = {"failed", "error"}
INSTANCE_FAILED = {"failed", "incompatible-restore", "incompatible-parameters", "incompatible-network",
                   "storage-full", "inaccessible-encryption-credentials", "restore-error", "deleting"}


def first_wait(status: str, poll_seconds: int, now: datetime) -> WaitStatus:
    ready = status == "available"
    return WaitStatus(ready=ready, waited_seconds=0, next_wait_seconds=poll_seconds, status=status,
                      observed_at=now if ready else None)


def next_wait(previous: WaitStatus, status: str, *, failed_states: set[str], what: str, poll_seconds: int,
              max_wait_seconds: int, now: datetime) -> WaitStatus:
    """Called after a Wait state slept ``previous.next_wait_seconds``."""
    waited = previous.waited_seconds + previous.next_wait_seconds
    if status in failed_states:
        raise RestoreFailed(f"{what} entered state '{status}' after {waited}s")
    if status == "available":
        return WaitStatus(ready=True, waited_seconds=waited, next_wait_seconds=0, status=status, observed_at=now)
    if waited >= max_wait_seconds:
        raise RestoreTimedOut(f"{what} still '{status}' after {waited}s (limit {max_wait_seconds}s)")
    interval = min(int(previous.next_wait_seconds * BACKOFF) + 1, poll_seconds * MAX_INTERVAL_FACTOR,
                   max(max_wait_seconds - waited, 1))
    return WaitStatus(ready=False, waited_seconds=waited, next_wait_seconds=interval, status=status)
