"""The engine's promises: order within lateness, redelivery, dedup, suppression, bounded state, concurrent
writers. Event time only: nothing here reads or fakes the wall clock."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from churnguard_ops.security.engine import Engine, Suppression, build_detectors
from churnguard_ops.security.ports import Entry
from churnguard_ops.security.state import MemoryDetectorState
from tests.unit.security_fakes import ConditionalWriteState
from tests.unit.test_security_detectors import T0, ev

ALL = None  # the default detectors


def run(events, *, dedup: float = 0, lateness: float = 900, suppressions=(), state=None, specs=ALL):
    eng = Engine(build_detectors(specs), state or MemoryDetectorState(), dedup_seconds=dedup,
                 lateness_seconds=lateness, suppressions=suppressions)
    return eng, eng.process_many(events)


def keys(alerts) -> set[tuple[str, str, str]]:
    return {(a.detector, a.entity, a.event_id) for a in alerts}


def mixed_stream(seed: int = 7, n: int = 600):
    rng = random.Random(seed)
    events = []
    for i in range(n):
        t = i * 7 + rng.random()
        kind = rng.choice(["login_failed"] * 5 + ["data_export", "login_success", "role_changed"])
        events.append(ev(kind, t, ip=f"203.0.113.{rng.randrange(4)}", user=f"u-{rng.randrange(3)}",
                         new_role=rng.choice(["admin", "viewer"]), country=rng.choice(["DE", "FR"])))
    return events


# order and redelivery -----------------------------------------------------------------------------------

def test_out_of_order_within_lateness_gives_the_same_windowed_alerts_as_in_order() -> None:
    events = mixed_stream()
    _, in_order = run(events)
    assert len(in_order) > 20
    rng = random.Random(1)
    # Shuffle inside blocks of 600 s of event time: no event arrives more than 600 s after a later one.
    shuffled = []
    for start in range(0, len(events), 80):
        block = events[start:start + 80]
        rng.shuffle(block)
        shuffled += block
    _, out_of_order = run(shuffled, lateness=900, specs=["brute_force_login", "data_exfiltration",
                                                         "privilege_escalation"])
    expected = {k for k in keys(in_order) if k[0] != "unusual_access"}
    assert keys(out_of_order) == expected


def test_a_late_failure_completes_the_window_of_a_failure_that_arrived_before_it() -> None:
    # The fifth failure (t=40) arrives before the fourth (t=30): the late one makes the fifth qualify.
    events = [ev("login_failed", s, event_id=f"f{s}") for s in (0, 10, 20, 40, 30)]
    _, alerts = run(events, specs=["brute_force_login"])
    assert [(a.event_id, a.count) for a in alerts] == [("f40", 5)]


def test_an_event_later_than_the_lateness_is_not_counted() -> None:
    events = [ev("login_failed", s) for s in (1000, 1001, 1002, 1003)] + [ev("login_failed", 998)]
    eng, alerts = run(events, lateness=1, specs=["brute_force_login"])
    assert alerts == []  # 998 arrived 5 s behind the newest: late, not counted
    _, within = run(events, lateness=5, specs=["brute_force_login"])
    # Within the lateness it counts: it completes the window of the failure at 1003, which qualifies.
    assert [(a.event_id, a.count) for a in within] == [(events[3].event_id, 5)]


def test_redelivered_events_never_count_twice_and_re_yield_the_same_alert() -> None:
    four = [ev("login_failed", s, event_id=f"f{s}") for s in (0, 10, 20, 30)]
    _, alerts = run(four + four, specs=["brute_force_login"])
    assert alerts == []  # eight deliveries, four events: below the threshold
    fifth = ev("login_failed", 40, event_id="f40")
    eng, first = run(four + [fifth], dedup=3600, specs=["brute_force_login"])
    again = eng.process(fifth)
    assert [a.alert_id for a in again] == [a.alert_id for a in first] and len(first) == 1
    assert again[0].count == 5


def test_a_duplicated_and_shuffled_stream_gives_the_same_alert_ids() -> None:
    events = mixed_stream(seed=3)
    _, clean = run(events, dedup=0, specs=["brute_force_login", "data_exfiltration", "privilege_escalation"])
    noisy = list(events)
    rng = random.Random(5)
    for event in rng.sample(events, 150):
        noisy.insert(min(len(noisy), noisy.index(event) + rng.randrange(1, 30)), event)
    _, dirty = run(noisy, dedup=0, specs=["brute_force_login", "data_exfiltration", "privilege_escalation"])
    assert {a.alert_id for a in dirty} == {a.alert_id for a in clean}


# dedup and suppression ----------------------------------------------------------------------------------

def test_dedup_one_alert_per_detector_and_entity_per_window_of_event_time() -> None:
    failures = [ev("login_failed", s) for s in range(0, 40)]  # 36 qualifying failures within 40 s
    later = [ev("login_failed", 3600 + s) for s in range(0, 5)]  # a new burst one hour after the first alert
    _, alerts = run(failures + later, dedup=3600, specs=["brute_force_login"])
    assert [a.event_id for a in alerts] == [failures[4].event_id, later[4].event_id]
    _, every = run(failures + later, dedup=0, specs=["brute_force_login"])
    assert len(every) == 36 + 1


def test_dedup_is_per_entity() -> None:
    events = [ev("login_failed", s, ip=ip) for s in range(5) for ip in ("198.51.100.1", "198.51.100.2")]
    _, alerts = run(events, dedup=3600, specs=["brute_force_login"])
    assert sorted(a.entity for a in alerts) == ["198.51.100.1", "198.51.100.2"]


def test_a_late_qualifying_event_does_not_add_a_second_alert_to_a_dedup_window() -> None:
    events = [ev("role_changed", 100, new_role="admin", event_id="b"), ev("role_changed", 50, new_role="admin",
                                                                          event_id="a")]
    _, alerts = run(events, dedup=3600, specs=["privilege_escalation"])
    assert [a.event_id for a in alerts] == ["b"]


def test_suppression_matches_detector_and_entity_pattern_until_it_expires_on_event_time() -> None:
    rule = Suppression(detector="brute_force_login", entity="203.0.113.*", expires_at=T0 + timedelta(seconds=100),
                       reason="pen test by ACME, ticket SEC-12")
    events = [ev("login_failed", s) for s in range(0, 5)] + [ev("login_failed", 100 + s) for s in range(5)]
    eng, alerts = run(events, suppressions=[rule], specs=["brute_force_login"])
    assert [a.timestamp for a in alerts] == [T0 + timedelta(seconds=100 + s) for s in range(5)]
    assert eng.stats.suppressed == 1  # the one qualifying failure before expiry (t=4)
    other = Suppression(detector="*", entity="198.51.100.1", expires_at=T0 + timedelta(days=1), reason="not this")
    _, unaffected = run(events[:5], suppressions=[other], specs=["brute_force_login"])
    assert len(unaffected) == 1


def test_an_expired_suppression_is_ignored() -> None:
    expired = Suppression(detector="*", entity="*", expires_at=T0 - timedelta(seconds=1), reason="old pen test")
    _, alerts = run([ev("role_changed", new_role="admin")], suppressions=[expired])
    assert len(alerts) == 1


# state --------------------------------------------------------------------------------------------------

def test_state_is_bounded_per_key_and_stale_keys_are_swept() -> None:
    state = MemoryDetectorState(sweep_every=1000)
    flood = [ev("login_failed", s / 10, event_id=f"x{s}") for s in range(20_000)]  # 20,000 failures in 2000 s
    eng, alerts = run(flood, state=state, specs=[{"detector": "brute_force_login", "params": {"max_entries": 50}}])
    assert max(len(slot.entries) for slot in state.windows.values()) <= 50
    assert len(alerts) == 20_000 - 4
    spread = [ev("login_failed", s * 400, ip=f"10.{s // 65536}.{s // 256 % 256}.{s % 256}") for s in range(5000)]
    state2 = MemoryDetectorState(sweep_every=100)
    run(spread, state=state2, specs=["brute_force_login"])
    assert len(state2.windows) <= 110  # one IP per 400 s: only the keys of the last window + lateness remain


def test_the_window_keeps_only_what_the_rule_needs() -> None:
    state = MemoryDetectorState()
    for s in range(0, 5000, 10):
        state.add_to_window("k", Entry(float(s), f"e{s}"), retain_seconds=300, lateness_seconds=60, keep=1000)
    assert [e.ts for e in state.windows["k"].entries][0] > 4990 - 360


def test_concurrent_writers_on_one_key_lose_no_counts() -> None:
    # Between our read and our conditional write another Lambda adds its failure to the same IP's window.
    state = ConditionalWriteState()

    def other_writer(key: str) -> None:
        if key.startswith("brute_force_login|") and other:
            state.add_to_window(key, other.pop(), retain_seconds=300, lateness_seconds=900, keep=1000)

    other = [Entry((T0 + timedelta(seconds=s)).timestamp(), f"other{s}", "org-1") for s in (1, 2)]
    state.between = other_writer
    eng, alerts = run([ev("login_failed", s, event_id=f"ours{s}") for s in (0, 3, 4)], state=state,
                      specs=["brute_force_login"])
    assert state.conflicts == 2
    [(version, slot)] = [v for k, v in state.items.items() if k.startswith("brute_force_login|")]
    assert sorted(e.event_id for e in slot.entries) == ["other1", "other2", "ours0", "ours3", "ours4"]
    assert [(a.event_id, a.count) for a in alerts] == [("ours4", 5)]


@pytest.mark.parametrize("dedup", [-1])
def test_negative_settings_are_refused(dedup: float) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Engine([], MemoryDetectorState(), dedup_seconds=dedup)
