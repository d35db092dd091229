"""brute_force_login against an exact oracle written here, independently of the engine.

The oracle reads the definition literally: a ``login_failed`` at t from IP x qualifies when at least 5
distinct failures from x (by event id) have a time in (t - 300, t]. It looks at the whole stream at once,
so it knows nothing of arrival order, redelivery, state or caps. The engine sees the stream in a
hypothesis-chosen arrival order with redeliveries; with dedup 0 both must name exactly the same events.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.model import Event
from churnguard_ops.security.state import MemoryDetectorState

T0 = datetime(2026, 11, 28, tzinfo=timezone.utc)
THRESHOLD, WINDOW = 5, 300


def oracle(events: list[Event]) -> set[tuple[str, str]]:
    unique = {e.event_id: e for e in events}.values()
    failures = [e for e in unique if e.type == "login_failed" and e.source_ip]
    qualifying = set()
    for e in failures:
        t = (e.time - T0).total_seconds()
        inside = sum(1 for o in failures if o.source_ip == e.source_ip
                     and t - WINDOW < (o.time - T0).total_seconds() <= t)
        if inside >= THRESHOLD:
            qualifying.add((e.source_ip or "", e.event_id))
    return qualifying


raw_event = st.tuples(st.sampled_from(["login_failed"] * 4 + ["login_success"]),
                      st.sampled_from(["198.51.100.1", "198.51.100.2", "2001:db8::1"]),
                      st.integers(min_value=0, max_value=1500),
                      st.sampled_from([0.0, 0.25, 0.5]))


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    specs = draw(st.lists(raw_event, min_size=0, max_size=120))
    events = [Event(event_id=f"e{i}", time=T0 + timedelta(seconds=s + frac), kind="app", type=kind, source_ip=ip)
              for i, (kind, ip, s, frac) in enumerate(specs)]
    arrival = draw(st.permutations(events))
    redelivered = draw(st.lists(st.sampled_from(events), max_size=20)) if events else []
    for event in redelivered:
        arrival.insert(draw(st.integers(min_value=0, max_value=len(arrival))), event)
    return events, arrival


@settings(max_examples=300, deadline=None)
@given(deliveries())
def test_engine_finds_exactly_the_oracles_brute_force_events_in_any_arrival_order(
        stream: tuple[list[Event], list[Event]]) -> None:
    events, arrival = stream
    engine = Engine(build_detectors(["brute_force_login"]), MemoryDetectorState(), dedup_seconds=0,
                    lateness_seconds=2000)  # the whole stream is within the lateness
    found = [(a.entity, a.event_id) for a in engine.process_many(arrival)]
    differences = set(found) ^ oracle(events)
    assert differences == set()
    # Each qualifying event is announced once per delivery of it after it qualified, never for another id.
    assert set(found) <= oracle(events)


@settings(max_examples=200, deadline=None)
@given(st.lists(raw_event, max_size=150))
def test_in_order_with_zero_lateness_and_bounded_state_matches_the_oracle_counts(specs: list) -> None:
    specs = sorted(specs, key=lambda s: s[2] + s[3])
    events = [Event(event_id=f"e{i}", time=T0 + timedelta(seconds=s + frac), kind="app", type=kind, source_ip=ip)
              for i, (kind, ip, s, frac) in enumerate(specs)]
    engine = Engine(build_detectors([{"detector": "brute_force_login", "params": {"max_entries": THRESHOLD}}]),
                    MemoryDetectorState(sweep_every=7), dedup_seconds=0, lateness_seconds=0)
    found = {(a.entity, a.event_id) for a in engine.process_many(events)}
    assert found == oracle(events)
