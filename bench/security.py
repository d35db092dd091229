"""Security analysis: our engine against the seed's algorithm on one mixed stream, in one process.

The seed's ``SecurityEventAnalyzer`` kept the last 10,000 events in a deque and, on every event, scanned
it for the recent ones (``timestamp > now - window``, ``now`` the wall clock) before matching each
pattern. It is reimplemented here as the baseline, with ``now`` = the event's own time (as if every
event arrived live, in order): the most favourable setting it can have, and one where it can replay.

The stream: ``NORMAL`` events over 12 hours (application traffic with brute-force bursts, export
sprees, large exports, admin grants, GDPR requests), then a credential-stuffing flood of ``FLOOD``
events in 10 minutes, during which more than 10,000 events fall within one 30-minute window.

Printed: events/s of each and the ratio (goal >= 50x); then the alert sets compared per detector
(brute_force_login, data_exfiltration, privilege_escalation, gdpr_violation_risk; dedup 0 on our side,
as the seed had none) over the events where the baseline is correct (its deque still held the whole
window of the event), and what the baseline missed where it was not. Goal: 0 differences where correct.
No wall-clock goal is asserted; the ratio is measured within this process.
"""
from __future__ import annotations

import random
import sys
import time
from collections import deque
from datetime import datetime, timedelta, timezone

from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.model import Event
from churnguard_ops.security.state import MemoryDetectorState

NORMAL = 42_000
FLOOD = 12_000
GOAL = 50.0
T0 = datetime(2026, 11, 28, tzinfo=timezone.utc)
COMPARED = ("brute_force_login", "data_exfiltration", "privilege_escalation", "gdpr_violation_risk")


def stream(seed: int = 42) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = []
    span = 12 * 3600

    def add(t: float, kind: str, ip: str, user: str, **details: object) -> None:
        events.append(Event(event_id=f"e{len(events)}", time=T0 + timedelta(seconds=t), kind="app", type=kind,
                            source_ip=ip, user_id=user, organization_id=f"org-{hash(user) % 7}", details=details))

    for _ in range(NORMAL):
        t = rng.uniform(0, span)
        user = f"u{rng.randrange(2000)}"
        ip = f"198.51.{rng.randrange(8)}.{rng.randrange(256)}"
        roll = rng.random()
        if roll < 0.55:
            add(t, "login_success", ip, user, country=rng.choice(["DE", "DE", "FR", "US"]))
        elif roll < 0.75:
            add(t, "login_failed", ip, user, reason="bad_password")
        elif roll < 0.80:  # a brute-force burst: 3-9 failures from one IP within a few minutes
            attacker = f"203.0.113.{rng.randrange(256)}"
            for i in range(rng.randrange(3, 10)):
                add(t + i * rng.uniform(5, 70), "login_failed", attacker, f"u{rng.randrange(2000)}")
        elif roll < 0.90:
            add(t, rng.choice(["data_export", "bulk_export", "report_exported"]), ip,
                f"u{rng.randrange(150)}", export_size_mb=round(rng.choice([1.5, 8.0, 30.0, 120.0, 2.0]), 1))
        elif roll < 0.94:
            add(t, "role_changed", ip, user, new_role=rng.choice(["viewer", "analyst", "admin", "super_admin"]),
                target_user_id=f"u{rng.randrange(2000)}")
        elif roll < 0.97:
            age = rng.uniform(1, 60)
            add(t, "gdpr_request_updated", ip, "svc-privacy", request_id=f"dsr-{rng.randrange(500)}",
                status=rng.choice(["pending", "in_progress", "completed"]),
                received_at=(T0 + timedelta(seconds=t) - timedelta(days=age)).isoformat())
        else:
            add(t, "page_view", ip, user)
    flood_start = span + 60
    for i in range(FLOOD):  # credential stuffing from a botnet, plus an export spree hidden inside it
        t = flood_start + i * 600 / FLOOD
        if i % 5000 == 0:  # three exports 10,000 events apart: the deque has lost the first by the third
            add(t, "data_export", "198.51.100.9", "u-insider", export_size_mb=20.0)
        else:
            add(t, "login_failed", f"192.0.2.{i % 97}", f"u{i % 2000}")
    events.sort(key=lambda e: e.time)
    return events


class SeedAnalyzer:
    """The seed's algorithm: a 10,000-event deque scanned on every event (wall clock -> event time)."""

    def __init__(self) -> None:
        self.buffer: deque[Event] = deque(maxlen=10_000)
        self.complete: dict[str, bool] = {}  # event id -> did the deque still hold its whole window?

    def analyze(self, event: Event) -> list[tuple[str, str, str]]:
        self.buffer.append(event)
        now = event.time
        # The seed's scan, on every event: the events of the last 30 minutes (its longest window).
        cutoff = now - timedelta(minutes=30)
        recent = [e for e in self.buffer if e.time > cutoff]
        self.complete[event.event_id] = len(self.buffer) < 10_000 or self.buffer[0].time <= cutoff
        alerts = []
        if event.type == "login_failed" and event.source_ip:
            five = now - timedelta(minutes=5)
            failures = [e for e in recent if e.type == "login_failed" and e.source_ip == event.source_ip
                        and e.time > five]
            if len(failures) >= 5:
                alerts.append(("brute_force_login", event.source_ip, event.event_id))
        if "export" in event.type and event.user_id:
            exports = [e for e in recent if "export" in e.type and e.user_id == event.user_id]
            size = event.details.get("export_size_mb")
            if len(exports) >= 3 or (isinstance(size, int | float) and size > 100):
                alerts.append(("data_exfiltration", event.user_id, event.event_id))
        if event.type == "role_changed" and event.details.get("new_role") in ("admin", "super_admin"):
            alerts.append(("privilege_escalation", str(event.details.get("target_user_id") or event.user_id),
                           event.event_id))
        if event.type.startswith("gdpr_request") and event.details.get("status") != "completed":
            received = datetime.fromisoformat(str(event.details["received_at"]))
            if (now - received).total_seconds() > 30 * 86400:
                alerts.append(("gdpr_violation_risk", str(event.details["request_id"]), event.event_id))
        return alerts


def main() -> int:
    events = stream()
    print(f"stream: {len(events):,} events ({NORMAL:,} over 12 h, then {FLOOD:,} in 10 min)")

    engine = Engine(build_detectors(), MemoryDetectorState(), dedup_seconds=0)
    started = time.perf_counter()
    ours = [(a.detector, a.entity, a.event_id) for e in events for a in engine.process(e)]
    ours_seconds = time.perf_counter() - started

    seed = SeedAnalyzer()
    started = time.perf_counter()
    theirs = [alert for e in events for alert in seed.analyze(e)]
    seed_seconds = time.perf_counter() - started

    ours_rate, seed_rate = len(events) / ours_seconds, len(events) / seed_seconds
    ratio = ours_rate / seed_rate
    print(f"engine:   {ours_rate:>10,.0f} events/s ({ours_seconds:.2f} s, {len(ours):,} alerts, all detectors)")
    print(f"baseline: {seed_rate:>10,.0f} events/s ({seed_seconds:.2f} s, {len(theirs):,} alerts)")
    print(f"ratio:    {ratio:>10.1f}x (goal >= {GOAL:g}x) {'ok' if ratio >= GOAL else 'BELOW GOAL'}")

    correct = {eid for eid, ok in seed.complete.items() if ok}
    ours_set = {a for a in ours if a[0] in COMPARED}
    theirs_set = set(theirs)
    differences = 0
    print(f"alert sets where the baseline is correct ({len(correct):,} of {len(events):,} events):")
    for detector in COMPARED:
        mine = {a for a in ours_set if a[0] == detector and a[2] in correct}
        base = {a for a in theirs_set if a[0] == detector and a[2] in correct}
        differences += len(mine ^ base)
        print(f"  {detector:<21} engine {len(mine):>6,}  baseline {len(base):>6,}  differences {len(mine ^ base)}")
    missed = {a for a in ours_set - theirs_set if a[2] not in correct}
    print(f"where the deque overflowed (> 10,000 events in 30 min): the baseline missed {len(missed):,} alerts "
          f"({', '.join(sorted({a[0] for a in missed})) or 'none'})")
    print(f"differences where the baseline is correct: {differences} (goal 0)")
    return 0 if differences == 0 and ratio >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
