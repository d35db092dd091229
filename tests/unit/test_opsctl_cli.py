"""opsctl's parser, messages and summaries: pure logic, no AWS and no subprocess."""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import pytest

from opsctl import cli
from opsctl.commands.common import read_event
from opsctl.console import invocation_summary, still_running
from opsctl.drill_runner import query_line
from opsctl.errors import UsageError
from opsctl.local.faults import Fault

ROOT = Path(__file__).resolve().parents[2]


def _parsers(parser: argparse.ArgumentParser, name: str = "opsctl") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _parsers(sub, f"{name} {sub_name}")
    return found


def _help_texts() -> list[tuple[str, str]]:
    texts = []
    for name, parser in _parsers(cli.build_parser()):
        texts += [(name, parser.description or ""), (name, parser.epilog or "")]
        for action in parser._actions:
            texts.append((f"{name} {'/'.join(action.option_strings) or action.dest}", action.help or ""))
            if isinstance(action, argparse._SubParsersAction):
                texts += [(f"{name} {a.dest}", a.help or "") for a in action._choices_actions]
    return texts


def test_every_option_and_command_has_help() -> None:
    missing = []
    for name, parser in _parsers(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {a.dest}" for a in action._choices_actions if not (a.help or "").strip()]
            elif not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help: {missing}"


def test_help_points_only_to_files_in_the_repository() -> None:
    # A document (README.md) or a path (events/backup/x.json); bare output names (plugins.json) are not files here.
    mentions = re.compile(r"[\w.-]+\.(?:md|rst|txt|pdf|html?)\b|[\w.-]+(?:/[\w.-]+)+\.\w+")
    for where, text in _help_texts():
        assert not re.search(r"https?://|design doc", text, re.IGNORECASE), f"{where} points elsewhere: {text!r}"
        for mention in mentions.findall(text):
            assert (ROOT / mention).is_file(), f"{where} mentions {mention!r}, which is not in the repository"


def test_debug_is_accepted_before_and_after_the_command() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["--debug", "demo"]).debug is True
    assert parser.parse_args(["demo", "--debug"]).debug is True
    assert parser.parse_args(["demo"]).debug is False


def test_a_usage_error_is_one_line_and_exit_2_and_debug_raises_it(tmp_path, capsys) -> None:
    missing = tmp_path / "missing.json"
    assert cli.main(["invoke", "backup", "--event", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"opsctl invoke: event file {missing}: no such file"]
    with pytest.raises(UsageError):
        cli.main(["--debug", "invoke", "backup", "--event", str(missing)])


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys) -> None:
    def boom(args):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr("opsctl.commands.demo.run", boom)
    assert cli.main(["demo"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "opsctl demo: RuntimeError: something broke (--debug shows the traceback)"]
    with pytest.raises(RuntimeError):
        cli.main(["demo", "--debug"])


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    ("{not json", "not valid JSON (line 1, column 2"),
    ("", "not valid JSON (line 1, column 1"),
])
def test_an_event_file_error_names_the_file(tmp_path, content, message) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=re.escape(f"event file {path}: {message}")):
        read_event(path)


def test_an_event_directory_is_refused(tmp_path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        read_event(tmp_path)


@pytest.mark.parametrize("spec", ["rds", "", "rds:", "RDS:CreateDBSnapshot", "rds:createDBSnapshot",
                                  "rds:CreateDBSnapshot:DBInstanceIdentifier=", "rds:CreateDBSnapshot:=db1",
                                  "rds:CreateDBSnapshot:A=1:B=2", "rds:CreateDBSnapshot:Throttling:Busy",
                                  "rds:CreateDBSnapshot:Not a code"])
def test_a_malformed_fault_spec_is_refused_with_a_reason(spec) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        Fault.parse(spec)


def test_a_fault_spec_parses_parameter_and_code_in_any_order() -> None:
    assert Fault.parse("rds:CreateDBSnapshot") == Fault("rds:CreateDBSnapshot")
    assert Fault.parse("rds:CreateDBSnapshot:Busy:DBInstanceIdentifier=db1") == Fault(
        "rds:CreateDBSnapshot", "DBInstanceIdentifier=db1", "Busy")


def test_a_query_line_shows_the_median_against_the_limit_and_labels_the_slowest_run() -> None:
    line = query_line({"name": "users_per_org", "median_ms": 0.958, "max_ms": 0.986, "passed": True,
                       "threshold_ms": 5000.0})
    assert line == "[     ok] query users_per_org: 0.958 ms median (limit 5000 ms, slowest run 0.986 ms)"
    assert "(max" not in line
    slow = query_line({"name": "q", "median_ms": 7000.5, "max_ms": 9000.0, "passed": False, "threshold_ms": 5000})
    assert slow.startswith("[   SLOW] query q: 7000.5 ms median (limit 5000 ms")
    failed = query_line({"name": "q", "median_ms": None, "max_ms": None, "passed": False, "threshold_ms": 300,
                         "error": "QueryCanceled: statement timeout"})
    assert failed == "[  error] query q: QueryCanceled: statement timeout (limit 300 ms)"


def test_an_invocation_summary_of_a_backup_is_the_outcome_table() -> None:
    report = {"policy": "database", "slot": "2026-11-28T10:00:00Z", "posture": [],
              "outcomes": [{"target": "churnguard-prod", "action": "snapshot", "status": "succeeded",
                            "detail": "created snap-1", "data": {"snapshot_id": "snap-1"}}]}
    text = invocation_summary("churnguard-ops-backup", "events/backup/x.json", True, report)
    assert text.splitlines()[0] == "churnguard-ops-backup <- events/backup/x.json: ok"
    assert "Backup policy 'database', slot 2026-11-28T10:00:00Z" in text
    assert "[  ok] snapshot churnguard-prod" in text and "snapshot_id" not in text


def test_an_invocation_summary_of_another_result_shows_a_few_key_fields() -> None:
    result = {"drill_id": "d1", "recovery_point": {"kind": "snapshot", "snapshot_id": "s1", "extra": {"x": 1}},
              "checks": [1, 2, 3], **{f"field{i}": i for i in range(20)}}
    lines = invocation_summary("fn", "e.json", True, result).splitlines()
    assert "  drill_id: d1" in lines
    assert "  recovery_point: kind=snapshot, snapshot_id=s1" in lines
    assert "  checks: 3 item(s)" in lines
    assert lines[-1].startswith("  ... 13 more field(s); --json")
    assert len(lines) < 15


def test_an_invocation_summary_of_a_failure_shows_the_error() -> None:
    text = invocation_summary("fn", "e.json", False, {"errorType": "ValidationError",
                                                      "errorMessage": "1 validation error\ndetail.policy\n  bad"})
    assert text.splitlines()[:2] == ["fn <- e.json: FAILED", "  ValidationError: 1 validation error"]
    assert "detail.policy" in text


def test_still_running_says_so_until_the_block_ends(capsys) -> None:
    with still_running("waiting for x", every=0.05, detail=lambda: "2 retries"):
        time.sleep(0.18)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2 and all("still waiting for x" in line and "2 retries" in line for line in lines)
    time.sleep(0.1)
    assert capsys.readouterr().err == ""  # stopped with the block


def test_the_help_walker_sees_the_options_of_nested_commands() -> None:
    names = {where for where, _ in _help_texts()}
    assert {"opsctl drill run --mode", "opsctl drill run --snapshot-id", "opsctl invoke --json",
            "opsctl backup run --inject-fault", "opsctl local up --no-seed"} <= names
