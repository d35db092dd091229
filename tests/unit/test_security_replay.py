"""opsctl security replay: the sample file, envelopes, alert lines, summaries and one-line refusals."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from churnguard_ops.security.detectors import APP_DETECTORS, DEFAULT_DETECTORS
from opsctl.cli import main
from tests.events import EVENTS_DIR, load_event
from tests.unit.test_security_cloudtrail import EXPECTED, PARAMS

SAMPLE = EVENTS_DIR / "security" / "app-events.jsonl"
CLOUDTRAIL = EVENTS_DIR / "security" / "cloudtrail"


def replay(*args: str) -> int:
    return main(["security", "replay", *args])


def test_the_sample_file_raises_each_kind_of_alert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "alerts.jsonl"
    assert replay(str(SAMPLE), "--out", str(out)) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["detector"] for line in lines} >= {"brute_force_login", "data_exfiltration", "privilege_escalation",
                                                   "gdpr_violation_risk"}
    for line in lines:
        assert {"detector", "severity", "entity", "event_id", "timestamp", "count", "window_seconds",
                "recommended_action", "alert_id"} <= set(line)
    brute = next(line for line in lines if line["detector"] == "brute_force_login")
    assert (brute["entity"], brute["count"], brute["severity"]) == ("185.220.101.34", 5, "high")
    printed = capsys.readouterr().out
    assert f"{len(SAMPLE.read_text().splitlines())} events, {len(lines)} alerts" in printed
    assert "brute_force_login" in printed and "alerts:" in printed


def test_dedup_minutes_zero_alerts_on_every_qualifying_event(tmp_path: Path) -> None:
    hourly, every = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    replay(str(SAMPLE), "--out", str(hourly))
    replay(str(SAMPLE), "--dedup-minutes", "0", "--out", str(every))
    count = {p: sum(json.loads(x)["detector"] == "brute_force_login" for x in p.read_text().splitlines())
             for p in (hourly, every)}
    assert (count[hourly], count[every]) == (1, 2)  # six failures: the fifth and the sixth qualify


def test_eventbridge_envelopes_gzipped_and_redelivered_give_the_same_alerts(tmp_path: Path) -> None:
    envelope = load_event("security/eventbridge-app-event.json")
    lines = [json.dumps({**envelope, "detail": json.loads(raw)}) for raw in SAMPLE.read_text().splitlines()]
    path = tmp_path / "envelopes.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines + lines[-20:]) + "\n")  # the last 20 delivered twice
    plain, wrapped = tmp_path / "plain.jsonl", tmp_path / "wrapped.jsonl"
    replay(str(SAMPLE), "--out", str(plain))
    assert replay(str(path), "--out", str(wrapped)) == 0
    assert plain.read_text() == wrapped.read_text()


def test_alerts_to_standard_output_keep_the_summary_on_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(str(SAMPLE), "--out", "-") == 0
    captured = capsys.readouterr()
    assert all(json.loads(line)["detector"] for line in captured.out.splitlines())
    assert "alerts (dedup 60 min" in captured.err


@pytest.mark.parametrize(("content", "message"), [
    ('{"event_id": "a", "timestamp": "2026-11-28T10:00:00Z", "event_type": "login_failed"}\nnot json\n',
     "line 2: not JSON"),
    ('{"event_id": "a", "timestamp": 1764324000, "event_type": "login_failed"}\n', "line 1: not an application"),
    ("[1, 2]\n", "expected a JSON object"),
    ("\n\n", "empty file"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                          message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    assert replay(str(path)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_file_an_unknown_detector_and_a_directory_out_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(str(tmp_path / "nope.jsonl")) == 2
    assert replay(str(SAMPLE), "--detector", "brute_force") == 2
    assert replay(str(SAMPLE), "--out", str(tmp_path)) == 2
    assert replay(str(SAMPLE), "--dedup-minutes", "-1") == 2
    err = capsys.readouterr().err.splitlines()
    assert "no such file" in err[0] and "unknown detector 'brute_force'" in err[1] and "is a directory" in err[2]


def test_a_cloudtrail_record_missing_its_fields_is_refused_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": [{"eventVersion": "1.08", "eventName": "ConsoleLogin"}]}, indent=2))
    assert replay(str(path)) == 2
    assert "eventTime" in capsys.readouterr().err


# --- CloudTrail ---------------------------------------------------------------------------------------------------


def _config(tmp_path: Path, specs: object) -> str:
    path = tmp_path / "detectors.json"
    path.write_text(json.dumps(specs))
    return str(path)


def test_a_cloudtrail_log_file_prints_its_alerts_and_every_detector_runs_by_default(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(str(CLOUDTRAIL / "log-file.json")) == 0
    printed = capsys.readouterr().out
    alerts = [line.split() for line in printed.splitlines() if line.startswith("  2026-")]
    assert [(fields[1], fields[2], fields[3]) for fields in alerts] == [
        ("critical", "snapshot_shared_externally", "churnguard-ops-churnguard-prod-daily-2026-11-28"),
        ("critical", "snapshot_shared_externally", "snap-0a1b2c3d4e5f60789"),
        ("high", "security_group_open_to_world", "sg-0a1b2c3d4e5f60718")]
    assert "5 events, 3 alerts" in printed
    summary = [line.split()[0] for line in printed.splitlines() if line.rstrip().endswith("entities")]
    assert summary == DEFAULT_DETECTORS


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_cloudtrail_sample_replayed_with_a_config_alerts_exactly_its_detectors(
        tmp_path: Path, name: str) -> None:
    config = _config(tmp_path, [{"detector": d, "params": PARAMS.get(d, {})} for d in DEFAULT_DETECTORS])
    out = tmp_path / "alerts.jsonl"
    assert replay(str(CLOUDTRAIL / name), "--config", config, "--out", str(out)) == 0
    assert {json.loads(line)["detector"] for line in out.read_text().splitlines()} == EXPECTED[name]


def test_without_the_config_the_defaults_apply(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    # The DR account is on no allowlist by default; no bucket is protected by default.
    replay(str(CLOUDTRAIL / "rds-snapshot-shared-allowlisted.json"), "--out", str(out))
    assert [json.loads(line)["detector"] for line in out.read_text().splitlines()] == ["snapshot_shared_externally"]
    replay(str(CLOUDTRAIL / "s3-suspend-versioning-protected.json"), "--out", str(out))
    assert out.read_text() == ""


def test_detector_filters_the_defaults_or_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = str(CLOUDTRAIL / "log-file.json")
    assert replay(log, "--detector", "security_group_open_to_world", "--detector", "root_activity") == 0
    printed = capsys.readouterr().out
    assert "1 alerts" in printed and "snapshot_shared_externally" not in printed
    allow = _config(tmp_path, [{"detector": "snapshot_shared_externally",
                                "params": {"snapshot_share_allowlist": ["444455556666"]}}])
    out = tmp_path / "alerts.jsonl"
    assert replay(log, "--config", allow, "--out", str(out)) == 0  # only the configured detector runs
    assert [json.loads(x)["entity"] for x in out.read_text().splitlines()] == ["snap-0a1b2c3d4e5f60789"]
    assert replay(log, "--config", allow, "--detector", "snapshot_shared_externally", "--detector",
                  "security_group_open_to_world", "--out", str(out)) == 0
    assert [json.loads(x)["detector"] for x in out.read_text().splitlines()] == [
        "snapshot_shared_externally", "security_group_open_to_world"]


def test_the_app_sample_gives_the_same_alerts_with_all_detectors_as_with_the_app_ones(tmp_path: Path) -> None:
    every, app = tmp_path / "every.jsonl", tmp_path / "app.jsonl"
    assert replay(str(SAMPLE), "--out", str(every)) == 0
    assert replay(str(SAMPLE), *[arg for name in APP_DETECTORS for arg in ("--detector", name)],
                  "--out", str(app)) == 0
    assert every.read_text() == app.read_text() != ""


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"detector": "root_activity"}', "expected a JSON list"),
    ('[{"detector": "root_activity", "parms": {}}]', "entry 1: parms: Extra inputs are not permitted"),
    ('[{"detector": "root_activty"}]', "unknown detector 'root_activty'"),
    ('[{"detector": "backup_tampering", "params": {"snapshot_prefix": ""}}]', "invalid params for backup_tampering"),
])
def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                             message: str) -> None:
    path = tmp_path / "detectors.json"
    path.write_text(content)
    assert replay(str(CLOUDTRAIL / "log-file.json"), "--config", str(path)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
