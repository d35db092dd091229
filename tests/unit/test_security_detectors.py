"""Each detector's rule at its edges (window bounds, thresholds, allowlists), on event time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from churnguard_ops.core.registry import PluginSpecError
from churnguard_ops.security.detectors import DETECTORS
from churnguard_ops.security.engine import Engine, build_detectors
from churnguard_ops.security.model import Event, SecurityEvent
from churnguard_ops.security.state import MemoryDetectorState

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
_ids = iter(range(10**9))


def ev(type_: str, seconds: float = 0, *, ip: str | None = "203.0.113.7", user: str | None = "u-1",
       org: str | None = "org-1", event_id: str | None = None, **details: Any) -> Event:
    return Event(event_id=event_id or f"e{next(_ids)}", time=T0 + timedelta(seconds=seconds), kind="app",
                 type=type_, source_ip=ip, user_id=user, organization_id=org, details=details)


def engine(*specs: Any, dedup: float = 0, lateness: float = 900) -> Engine:
    return Engine(build_detectors(list(specs) or None), MemoryDetectorState(), dedup_seconds=dedup,
                  lateness_seconds=lateness)


def fired(eng: Engine, events: list[Event]) -> list[tuple[str, str, str]]:
    return [(a.detector, a.entity, a.event_id) for a in eng.process_many(events)]


# brute_force_login --------------------------------------------------------------------------------------

def test_brute_force_a_fifth_failure_at_299_seconds_alerts() -> None:
    events = [ev("login_failed", s) for s in (0, 10, 20, 30)] + [ev("login_failed", 299, event_id="fifth")]
    alerts = engine("brute_force_login").process_many(events)
    assert [(a.event_id, a.entity, a.count, a.severity, a.window_seconds) for a in alerts] == \
        [("fifth", "203.0.113.7", 5, "high", 300)]
    assert alerts[0].timestamp == T0 + timedelta(seconds=299)
    assert "Block the source IP" in alerts[0].recommended_action


def test_brute_force_a_fifth_failure_at_300_seconds_does_not_alert() -> None:
    events = [ev("login_failed", s) for s in (0, 10, 20, 30)] + [ev("login_failed", 300)]
    assert fired(engine("brute_force_login"), events) == []


def test_brute_force_counts_per_source_ip_and_only_failures() -> None:
    events = [ev("login_failed", s, ip=f"198.51.100.{s}") for s in range(5)]
    events += [ev("login_success", s) for s in range(5)] + [ev("login_failed", 6, ip=None)]
    assert fired(engine("brute_force_login"), events) == []


def test_brute_force_every_failure_past_the_threshold_qualifies_without_dedup() -> None:
    events = [ev("login_failed", s) for s in range(7)]
    assert [f[2] for f in fired(engine("brute_force_login"), events)] == [e.event_id for e in events[4:]]


def test_brute_force_allowlisted_networks_are_not_counted() -> None:
    spec = {"detector": "brute_force_login", "params": {"allow_cidrs": ["203.0.113.0/24"]}}
    assert fired(engine(spec), [ev("login_failed", s) for s in range(6)]) == []


def test_brute_force_threshold_and_window_come_from_params() -> None:
    spec = {"detector": "brute_force_login", "params": {"threshold": 3, "window_seconds": 60}}
    assert len(fired(engine(spec), [ev("login_failed", s) for s in (0, 30, 59)])) == 1
    assert fired(engine(spec), [ev("login_failed", s) for s in (0, 30, 60)]) == []


def test_a_typo_in_detector_params_is_an_error_naming_it() -> None:
    with pytest.raises(PluginSpecError, match="treshold"):
        build_detectors([{"detector": "brute_force_login", "params": {"treshold": 3}}])
    with pytest.raises(PluginSpecError, match="unknown detector 'brute_force'"):
        build_detectors(["brute_force"])
    with pytest.raises(PluginSpecError, match="allow_cidrs"):
        build_detectors([{"detector": "brute_force_login", "params": {"allow_cidrs": ["10.0.0.300/8"]}}])


# data_exfiltration --------------------------------------------------------------------------------------

def test_exfiltration_third_export_within_1800_seconds_alerts_at_1799_not_at_1800() -> None:
    inside = [ev("data_export", 0), ev("bulk_export", 900), ev("report_EXPORT", 1799, event_id="third")]
    alerts = engine("data_exfiltration").process_many(inside)
    assert [(a.event_id, a.entity, a.count, a.severity) for a in alerts] == [("third", "u-1", 3, "critical")]
    outside = [ev("data_export", 0), ev("data_export", 900), ev("data_export", 1800)]
    assert fired(engine("data_exfiltration"), outside) == []


def test_exfiltration_counts_per_user() -> None:
    events = [ev("data_export", s, user=f"u-{s}") for s in range(3)]
    assert fired(engine("data_exfiltration"), events) == []


def test_exfiltration_one_export_above_100_mb_alerts_on_its_own() -> None:
    alerts = engine("data_exfiltration").process_many(
        [ev("data_export", 0, export_size_mb=100), ev("data_export", 5000, export_size_mb=100.5, event_id="big"),
         ev("data_export", 9000, export_size_mb="250"), ev("data_export", 12000, export_size_mb=True)])
    assert [(a.event_id, a.count, a.context["reasons"]) for a in alerts][:1] == [("big", 1, ["large_export"])]
    assert len(alerts) == 2  # the numeric text counts; True is not a size


def test_exfiltration_both_reasons_make_one_alert() -> None:
    events = [ev("data_export", 0), ev("data_export", 1), ev("data_export", 2, export_size_mb=500, event_id="x")]
    alerts = engine("data_exfiltration").process_many(events)
    assert [(a.event_id, a.count, a.context["reasons"]) for a in alerts] == [("x", 3, ["many_exports",
                                                                                   "large_export"])]


# privilege_escalation -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "alerts"), [("admin", 1), ("Super_Admin", 1), ("viewer", 0), (None, 0)])
def test_privilege_escalation_on_admin_roles_only(role: str | None, alerts: int) -> None:
    event = ev("role_changed", new_role=role, target_user_id="u-9", old_role="viewer")
    found = engine("privilege_escalation").process(event)
    assert len(found) == alerts
    if found:
        assert (found[0].entity, found[0].severity, found[0].context["actor"]) == ("u-9", "high", "u-1")


def test_privilege_escalation_without_target_names_the_event_user() -> None:
    [alert] = engine("privilege_escalation").process(ev("role_changed", user="u-5", new_role="admin"))
    assert alert.entity == "u-5"


# gdpr_violation_risk ------------------------------------------------------------------------------------

def _request(age: timedelta, status: str = "pending", **extra: Any) -> Event:
    return ev("gdpr_request", request_id="dsr-1", request_type="erasure", status=status,
              received_at=(T0 - age).isoformat(), **extra)


def test_gdpr_a_request_more_than_30_days_old_and_not_completed_alerts() -> None:
    [alert] = engine("gdpr_violation_risk").process(_request(timedelta(days=30, seconds=1)))
    assert (alert.entity, alert.severity, alert.context["reason"], alert.context["age_days"]) == \
        ("dsr-1", "critical", "request_age", 30.0)


def test_gdpr_exactly_30_days_or_completed_does_not_alert() -> None:
    assert fired(engine("gdpr_violation_risk"), [_request(timedelta(days=30))]) == []
    assert fired(engine("gdpr_violation_risk"), [_request(timedelta(days=45), status="completed")]) == []
    assert fired(engine("gdpr_violation_risk"), [ev("gdpr_request", request_id="dsr-2")]) == []  # no received_at


def test_gdpr_an_explicit_overdue_event_alerts() -> None:
    [alert] = engine("gdpr_violation_risk").process(ev("gdpr_request_overdue", request_id="dsr-3"))
    assert (alert.entity, alert.context["reason"]) == ("dsr-3", "overdue_event")


# unusual_access -----------------------------------------------------------------------------------------

def _logins(n: int, hour: int = 9, country: str = "DE") -> list[Event]:
    return [ev("login_success", day * 86400 + (hour - 10) * 3600, country=country) for day in range(-n, 0)]


def test_unusual_access_needs_both_an_unusual_hour_and_an_unusual_location() -> None:
    history = _logins(10)  # ten days, 09:00 UTC, from DE
    odd_both = ev("login_success", 8 * 3600, country="BR", event_id="odd")  # 18:00 UTC from BR
    odd_hour = ev("login_success", 8 * 3600 + 1, country="DE")
    odd_place = ev("login_success", 3600, country="BR")  # 11:00: within 2 h of 09:00
    assert fired(engine("unusual_access"), history + [odd_hour]) == []
    assert fired(engine("unusual_access"), history + [odd_place]) == []
    [alert] = engine("unusual_access").process_many(history + [odd_both])
    assert (alert.event_id, alert.entity, alert.severity, alert.context["hour_utc"],
            alert.context["known_locations"], alert.context["history"]) == ("odd", "u-1", "medium", 18, ["DE"], 10)


def test_unusual_access_gives_no_verdict_before_enough_history() -> None:
    eng = engine("unusual_access")
    assert fired(eng, _logins(9) + [ev("login_success", 8 * 3600, country="BR")]) == []


def test_unusual_access_hour_tolerance_wraps_around_midnight() -> None:
    eng = engine("unusual_access")
    history = _logins(10, hour=23)
    assert fired(eng, history + [ev("login_success", 15 * 3600, country="BR")]) == []  # 01:00 is 2 h from 23:00


# the registry -------------------------------------------------------------------------------------------

def test_every_detector_declares_severity_action_example_and_no_permissions() -> None:
    assert set(DETECTORS) >= {"brute_force_login", "data_exfiltration", "privilege_escalation",
                              "gdpr_violation_risk", "unusual_access"}
    for info in DETECTORS.describe():
        cls = DETECTORS[info.name]
        assert cls.severity in ("low", "medium", "high", "critical")
        assert cls.recommended_action and "Example" in info.doc
        assert cls.permissions == ()


def test_the_app_event_refuses_a_numeric_timestamp_and_reads_naive_as_utc() -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        SecurityEvent.model_validate({"event_id": "a", "timestamp": 1764324000, "event_type": "login_failed"})
    event = Event.from_app(SecurityEvent.model_validate(
        {"event_id": "a", "timestamp": "2026-11-28T10:00:00", "event_type": "login_failed", "source_ip": "1.2.3.4",
         "severity": "HIGH", "details": {"k": 1}, "new_field": "ignored"}))
    assert (event.time, event.kind, event.type, event.details) == (T0, "app", "login_failed", {"k": 1})
    with pytest.raises(ValueError, match="timezone-aware"):
        Event(event_id="b", time=datetime(2026, 1, 1), kind="app", type="x")
