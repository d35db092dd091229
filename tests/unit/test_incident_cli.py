"""opsctl incident: bad input is one line and exit code 2 before anything starts; the function's error answer is
exit 2 too; the list, show and action summaries say what happened."""
from __future__ import annotations

from typing import Any

import pytest

from opsctl import cli
from opsctl.commands import incident
from opsctl.lambda_calls import Invocation

ID = "inc-20261130-100000-3d0b2f1e"


@pytest.mark.parametrize(("argv", "message"), [
    (["incident", "show", "../etc/passwd"], "show: ID: String should match pattern"),
    (["incident", "note", ID, "--text", "   "], "note: text: String should have at least 1 character"),
    (["incident", "resolve", ID, "--reason", ""], "resolve: reason: String should have at least 1 character"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def _args(argv: list[str]) -> Any:
    return cli.build_parser().parse_args(argv)


def test_the_commands_carry_who_and_default_to_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incident.getpass, "getuser", lambda: "carol")
    assert incident.command_of(_args(["incident", "ack", ID])) == {"command": "ack", "incident_id": ID, "by": "carol"}
    assert incident.command_of(_args(["incident", "resolve", ID, "--reason", "rollback", "--by", "bob"])) == {
        "command": "resolve", "incident_id": ID, "by": "bob", "reason": "rollback"}
    assert incident.command_of(_args(["incident", "list"])) == {"command": "list", "status": "active"}


def test_the_functions_error_answer_is_the_operators_error_and_a_crash_is_a_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([Invocation("f", {"error": f"no incident {ID}"}, None),
                    Invocation("f", {"errorType": "Throttled", "errorMessage": "slow down"}, "Unhandled")])
    monkeypatch.setattr("opsctl.lambda_calls.invoke", lambda name, event: next(answers))
    with pytest.raises(incident.UsageError, match=f"no incident {ID}"):
        incident.call("f", {"command": "show", "incident_id": ID})
    with pytest.raises(incident.FunctionFailed, match="f: FAILED: Throttled: slow down"):
        incident.call("f", {"command": "show", "incident_id": ID})


SUMMARY = {"incident_id": ID, "title": "churnguard-HighErrorRate in ALARM", "severity": "critical", "status": "open",
           "opened_at": "2026-11-30T10:00:00+00:00", "acknowledged_at": None, "resolved_at": None,
           "team": "platform", "group": "api",
           "alarms": [{"name": "churnguard-HighErrorRate", "state": "ALARM", "since": "2026-11-30T10:00:00+00:00",
                       "severity": "critical"}]}


def test_the_list_is_a_table_with_a_count() -> None:
    lines = incident.format_list({"incidents": [SUMMARY]}, "active")
    assert lines[0] == "1 incident (active)"
    assert lines[1].split() == ["ID", "SEVERITY", "STATUS", "OPENED", "(UTC)", "TEAM/GROUP", "ALARMS"]
    assert lines[2].split() == [ID, "critical", "open", "2026-11-30", "10:00:00", "platform/api",
                                "churnguard-HighErrorRate", "ALARM"]
    assert incident.format_list({"incidents": []}, "resolved") == ["0 incidents (resolved)"]


def test_show_prints_the_incident_its_alarms_and_timeline() -> None:
    detail = {**SUMMARY, "acknowledged_at": "2026-11-30T10:03:00+00:00", "acknowledged_by": "alice",
              "escalated": False, "postmortem": None,
              "alarms": [{**SUMMARY["alarms"][0], "runbook_url": "https://runbooks.example.com/x"}]}
    lines = incident.format_show({"incident": detail, "timeline": [
        {"at": "2026-11-30T10:00:00+00:00", "kind": "opened", "detail": "HighErrorRate OK -> ALARM", "by": "system"},
        {"at": "2026-11-30T10:03:00+00:00", "kind": "ack", "detail": "acknowledged", "by": "alice"}]})
    assert lines[0] == f"{ID}: churnguard-HighErrorRate in ALARM"
    assert "acknowledged 2026-11-30 10:03:00 by alice" in lines[2]
    assert any("runbook https://runbooks.example.com/x" in line for line in lines)
    assert lines[-1].split()[:4] == ["2026-11-30", "10:03:00", "ack", "alice"]


def test_ack_and_resolve_summaries_state_the_times() -> None:
    ack = {"command": "ack", "incident_id": ID, "by": "alice"}
    assert incident.summary_lines(ack, {"changed": True, "time_to_acknowledge_seconds": 185.0}) == [
        f"{ID} acknowledged by alice (time to acknowledge 3 min 05 s)"]
    resolve = {"command": "resolve", "incident_id": ID, "by": "bob", "reason": "x"}
    assert incident.summary_lines(resolve, {"time_to_resolve_seconds": 42.0, "postmortem": "s3://b/k.md"}) == [
        f"{ID} resolved by bob (time to resolve 42 s)", "postmortem draft: s3://b/k.md"]
