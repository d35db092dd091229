"""The CloudTrail detectors in the one detector registry: documented, configurable, run by the engine like the
application detectors; console_brute_force's window at its edges."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from churnguard_ops.security import cloudtrail
from churnguard_ops.security.cloudtrail import normalize
from churnguard_ops.security.detectors import (
    APP_DETECTORS,
    CLOUDTRAIL_DETECTORS,
    DEFAULT_DETECTORS,
    DETECTORS,
    CloudTrailDetector,
    WindowedCountDetector,
)
from churnguard_ops.security.engine import DetectorSpec, Engine, build_detectors
from churnguard_ops.security.model import Alert, Event
from churnguard_ops.security.sources import to_events
from churnguard_ops.security.state import MemoryDetectorState
from opsctl.cli import main
from tests.events import EVENTS_DIR
from tests.unit.test_security_cloudtrail import EXPECTED, PARAMS, SEVERITY, record, sample

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
ATTACKER = "192.0.2.200"


def example(doc: str) -> dict[str, Any]:
    """The JSON value that follows ``Example::`` in a plugin's docstring."""
    value, _ = json.JSONDecoder().raw_decode(doc.split("Example::", 1)[1].lstrip())
    assert isinstance(value, dict)
    return value


def engine(specs: list[Any] | None = None, dedup: float = 0) -> Engine:
    configured = [{"detector": name, "params": PARAMS.get(name, {})} for name in DEFAULT_DETECTORS]
    return Engine(build_detectors(configured if specs is None else specs), MemoryDetectorState(),
                  dedup_seconds=dedup, lateness_seconds=900)


def alerted(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    return [(a.detector, a.entity, a.event_id) for a in alerts]


# --- the registry -------------------------------------------------------------------------------------------------


def test_the_defaults_are_all_thirteen_detectors_application_and_cloudtrail() -> None:
    assert DEFAULT_DETECTORS == APP_DETECTORS + CLOUDTRAIL_DETECTORS
    assert len(DEFAULT_DETECTORS) == 13 and set(DEFAULT_DETECTORS) == set(DETECTORS)
    assert [d.name for d in build_detectors()] == DEFAULT_DETECTORS
    assert not hasattr(cloudtrail, "Finding")  # one Finding: detectors.base's


@pytest.mark.parametrize("name", CLOUDTRAIL_DETECTORS)
def test_each_cloudtrail_detector_is_a_documented_plugin(name: str) -> None:
    cls = DETECTORS[name]
    info = next(i for i in DETECTORS.describe() if i.name == name)
    assert issubclass(cls, WindowedCountDetector if name == "console_brute_force" else CloudTrailDetector)
    assert cls.severity == SEVERITY[name] and cls.recommended_action and cls.permissions == ()
    assert "(CloudTrail)" in info.doc
    assert info.params_schema["additionalProperties"] is False or not info.params_schema.get("properties")


@pytest.mark.parametrize("name", DEFAULT_DETECTORS)
def test_each_detector_s_docstring_example_is_a_valid_configuration(name: str) -> None:
    spec = DetectorSpec.model_validate(example(DETECTORS[name].__doc__ or ""))
    assert spec.detector == name
    [detector] = build_detectors([spec])
    assert detector.params == DETECTORS.validate(name, spec.params)


def test_each_kind_of_detector_judges_only_its_kind_of_event() -> None:
    cloudtrail = [normalize(sample(name)) for name in EXPECTED]
    app = [event for line in (EVENTS_DIR / "security" / "app-events.jsonl").read_text().splitlines()
           for event in to_events(json.loads(line))]
    for detector in build_detectors():
        other = cloudtrail if detector.name in APP_DETECTORS else app
        assert not any(detector.applies(event) for event in other), detector.name


# --- the engine over CloudTrail -------------------------------------------------------------------------------------


def test_an_engine_over_a_cloudtrail_log_file_gives_the_expected_alerts() -> None:
    alerts = engine().process_many(to_events(sample("log-file.json")))
    ids = [raw["eventID"] for raw in sample("log-file.json")["Records"]]
    assert alerted(alerts) == [
        ("snapshot_shared_externally", "churnguard-ops-churnguard-prod-daily-2026-11-28", ids[1]),
        ("snapshot_shared_externally", "snap-0a1b2c3d4e5f60789", ids[3]),
        ("security_group_open_to_world", "sg-0a1b2c3d4e5f60718", ids[4]),
    ]
    first = alerts[0]
    assert (first.severity, first.count, first.window_seconds, first.organization_id) == ("critical", 1, 0, None)
    assert first.recommended_action == DETECTORS["snapshot_shared_externally"].recommended_action
    assert first.context["shared_with"] == ["444455556666"] and "444455556666" in first.context["reason"]
    assert first.timestamp == datetime(2026, 11, 28, 10, 50, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_through_the_engine_alerts_exactly_its_detectors(name: str) -> None:
    alerts = engine().process_many(to_events(sample(name)))
    assert {a.detector for a in alerts} == EXPECTED[name]
    assert all(a.event_id == record(name)["eventID"] for a in alerts)


@pytest.mark.parametrize("name", sorted(name for name, found in EXPECTED.items() if found))
def test_a_failed_api_call_never_alerts(name: str) -> None:
    raw = copy.deepcopy(record(name))
    raw.update(errorCode="AccessDenied", errorMessage="User is not authorized to perform this operation")
    assert engine().process_many(to_events(raw)) == []


def test_failed_api_calls_are_not_failed_sign_ins() -> None:
    calls = []
    for second in range(8):
        raw = copy.deepcopy(record("iam-attach-admin-policy.json"))
        raw.update(eventID=f"denied-{second}", eventTime=(T0 + timedelta(seconds=second)).isoformat(),
                   errorCode="AccessDenied", sourceIPAddress=ATTACKER)
        calls.append(normalize(raw))
    assert engine().process_many(calls) == []


# --- console_brute_force --------------------------------------------------------------------------------------------


def failure(seconds: float, *, ip: str = ATTACKER, root: bool = False, event_id: str | None = None) -> Event:
    raw = copy.deepcopy(record("root-console-login-failed.json" if root else "console-login-failed.json"))
    raw.update(eventTime=(T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
               eventID=event_id or f"signin-{ip}-{seconds}-{root}", sourceIPAddress=ip)
    return normalize(raw)


def test_console_brute_force_a_fifth_failure_at_299_seconds_alerts() -> None:
    events = [failure(s, root=s == 20) for s in (0, 10, 20, 30)] + [failure(299, event_id="fifth")]
    alerts = engine().process_many(events)
    assert [(a.detector, a.event_id, a.entity, a.count, a.severity, a.window_seconds) for a in alerts] == \
        [("console_brute_force", "fifth", ATTACKER, 5, "high", 300)]
    assert alerts[0].timestamp == T0 + timedelta(seconds=299)
    assert alerts[0].context["event_ids"][-1] == "fifth"


def test_console_brute_force_a_fifth_failure_at_300_seconds_does_not_alert() -> None:
    events = [failure(s) for s in (0, 10, 20, 30)] + [failure(300)]
    assert engine().process_many(events) == []


def test_console_brute_force_counts_per_source_ip_and_only_failures() -> None:
    per_ip = [failure(s, ip=f"198.51.100.{s}") for s in range(6)]
    successes = []
    for second in range(6):
        raw = copy.deepcopy(record("root-console-login.json"))
        raw.update(eventID=f"ok-{second}", eventTime=(T0 + timedelta(seconds=second)).isoformat(),
                   sourceIPAddress=ATTACKER)
        successes.append(normalize(raw))
    alerts = engine().process_many(per_ip + successes)
    assert {a.detector for a in alerts} == {"root_activity"}  # six root sign-ins; no failures counted


@pytest.mark.parametrize("source", ["AWS Internal", "signin.amazonaws.com", "cloudformation.amazonaws.com"])
def test_console_brute_force_skips_sources_that_are_not_addresses(source: str) -> None:
    events = [failure(s, ip=source) for s in range(8)]
    assert events[0].details["sourceIsAwsService"] is True
    assert engine().process_many(events) == []


def test_console_brute_force_threshold_window_and_allowlist_are_params() -> None:
    tight = [{"detector": "console_brute_force", "params": {"threshold": 3, "window_seconds": 60}}]
    assert len(engine(tight).process_many([failure(s) for s in (0, 30, 59)])) == 1
    assert engine(tight).process_many([failure(s) for s in (0, 30, 60)]) == []
    office = [{"detector": "console_brute_force", "params": {"allow_cidrs": ["192.0.2.0/24"]}}]
    assert engine(office).process_many([failure(s) for s in range(8)]) == []


def test_console_brute_force_dedups_like_every_detector() -> None:
    alerts = engine(dedup=3600).process_many([failure(s) for s in range(10)])
    assert [(a.detector, a.count) for a in alerts] == [("console_brute_force", 5)]


# --- opsctl plugins ------------------------------------------------------------------------------------------------


def test_opsctl_plugins_lists_all_thirteen_detectors_with_their_params(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "list", "--kind", "detector"]) == 0
    listed = capsys.readouterr().out
    assert all(f" {name} " in listed for name in DEFAULT_DETECTORS)
    assert "13 plugin(s)" in listed
    assert main(["plugins", "show", "backup_tampering"]) == 0
    shown = capsys.readouterr().out
    for param in ("protected_buckets", "backup_role_arn_patterns", "snapshot_prefix"):
        assert f"  {param}:" in shown
    assert "IAM permissions: none" in shown
