"""make audit's scanner wrappers: what counts as checked, and "not checked" (with why) whenever it is not."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tools.audit.scanners import Outcome, bandit, cfn_lint, pip_audit

_UNREACHABLE = """Traceback (most recent call last):
  File "pip_audit/_service/pypi.py", line 83, in query
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded with url: \
/pypi/urllib3/2.8.0/json (Caused by NameResolutionError("Failed to resolve 'pypi.org'"))
"""


class FakeTool:
    """Stands in for one scanner: writes ``report`` where ``-o`` says (when given), exits with ``returncode``."""

    def __init__(self, report: object | None = None, *, returncode: int = 0, stdout: str = "", stderr: str = ""):
        self.report, self.returncode, self.stdout, self.stderr = report, returncode, stdout, stderr
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        if self.report is not None and "-o" in argv:
            Path(argv[argv.index("-o") + 1]).write_text(json.dumps(self.report))
        return subprocess.CompletedProcess(argv, self.returncode, self.stdout, self.stderr)


def _dep(name: str, version: str, vulns: list[dict] | None = None) -> dict:
    return {"name": name, "version": version, "vulns": vulns or []}


def _skipped(name: str, version: str) -> dict:
    return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})"}


def test_pip_audit_unreachable_advisory_service_is_not_checked_with_the_reason(tmp_path: Path) -> None:
    outcome = pip_audit(Path("layers/ops/requirements.lock"), tmp_path, FakeTool(returncode=1, stderr=_UNREACHABLE))
    assert outcome == Outcome("pip-audit", checked=False, reason=_UNREACHABLE.strip().splitlines()[-1])
    assert outcome.status == "not checked" and "ConnectionError" in (outcome.reason or "")


def test_pip_audit_stale_report_of_an_earlier_run_is_not_taken_for_this_one(tmp_path: Path) -> None:
    (tmp_path / "pip-audit.json").write_text(json.dumps({"dependencies": [_dep("urllib3", "2.8.0")], "fixes": []}))
    outcome = pip_audit(Path("requirements.lock"), tmp_path, FakeTool(returncode=1, stderr=_UNREACHABLE))
    assert not outcome.checked


def test_pip_audit_that_could_audit_no_dependency_is_not_checked_though_it_exits_0(tmp_path: Path) -> None:
    # pip-audit prints "No known vulnerabilities found" and exits 0 here.
    report = {"dependencies": [_skipped("urllib3", "2.8.0"), _skipped("six", "1.17.0")], "fixes": []}
    outcome = pip_audit(Path("requirements.lock"), tmp_path, FakeTool(report, stderr="No known vulnerabilities found"))
    assert not outcome.checked
    assert outcome.reason == ("none of the 2 locked dependencies could be audited: "
                              "Dependency not found on PyPI and could not be audited")
    assert outcome.not_checked == (
        "urllib3: Dependency not found on PyPI and could not be audited: urllib3 (2.8.0)",
        "six: Dependency not found on PyPI and could not be audited: six (1.17.0)")


def test_pip_audit_with_some_dependencies_skipped_is_partly_checked_naming_them(tmp_path: Path) -> None:
    report = {"dependencies": [_dep("urllib3", "2.8.0"), _skipped("six", "1.17.0")], "fixes": []}
    outcome = pip_audit(Path("requirements.lock"), tmp_path, FakeTool(report))
    assert outcome.checked and outcome.status == "partly checked"
    assert outcome.not_checked == ("six: Dependency not found on PyPI and could not be audited: six (1.17.0)",)


def test_pip_audit_exit_1_with_vulnerabilities_is_a_checked_source(tmp_path: Path) -> None:
    vuln = {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["2.8.1"], "aliases": ["CVE-2026-12345"], "description": "d"}
    tool = FakeTool({"dependencies": [_dep("urllib3", "2.8.0", [vuln])], "fixes": []}, returncode=1)
    outcome = pip_audit(Path("layers/ops/requirements.lock"), tmp_path, tool)
    assert outcome.status == "checked" and outcome.reports == (tmp_path / "pip-audit.json",)
    argv = tool.calls[0]
    assert argv[argv.index("-r") + 1] == "layers/ops/requirements.lock"
    assert {"--no-deps", "--disable-pip"} <= set(argv) and argv[argv.index("--format") + 1] == "json"


def test_bandit_exit_1_means_issues_found_and_is_checked(tmp_path: Path) -> None:
    tool = FakeTool({"errors": [], "results": [{"test_id": "B608"}]}, returncode=1)
    outcome = bandit(tmp_path, tool)
    assert outcome.status == "checked"
    assert tool.calls[0][1:4] == ["-r", "layers/ops/python", "functions"]


def test_bandit_files_it_could_not_parse_are_not_checked_by_name(tmp_path: Path) -> None:
    report = {"errors": [{"filename": "functions/x/app.py", "reason": "syntax error while parsing AST from file"}],
              "results": []}
    outcome = bandit(tmp_path, FakeTool(report))
    assert outcome.status == "partly checked"
    assert outcome.not_checked == ("functions/x/app.py: syntax error while parsing AST from file",)


def test_bandit_that_crashed_is_not_checked_with_its_last_error_line(tmp_path: Path) -> None:
    outcome = bandit(tmp_path, FakeTool(returncode=2, stderr="Traceback ...\nImportError: no module named stevedore\n"))
    assert outcome == Outcome("bandit", checked=False, reason="bandit failed: ImportError: no module named stevedore")


def test_cfn_lint_lints_each_region_in_its_region_and_merges_the_matches(tmp_path: Path) -> None:
    match = {"Rule": {"Id": "W3005"}, "Level": "Warning", "Filename": "a.template.json"}
    tool = FakeTool(stdout=json.dumps([match]))
    templates = {"us-east-1": [Path("a.template.json"), Path("b.template.json")],
                 "us-west-2": [Path("dr.template.json")]}
    outcome = cfn_lint(templates, tmp_path, tool)
    assert outcome.status == "checked"
    assert json.loads((tmp_path / "cfn-lint.json").read_text()) == [match, match]
    regions = {argv[argv.index("--regions") + 1]: argv[argv.index("--") + 1:] for argv in tool.calls}
    assert regions == {"us-east-1": ["a.template.json", "b.template.json"], "us-west-2": ["dr.template.json"]}


def test_cfn_lint_that_failed_is_not_checked_naming_the_region(tmp_path: Path) -> None:
    tool = FakeTool(returncode=1, stderr="cfnlint.decode: could not read template\n")
    outcome = cfn_lint({"us-east-1": [Path("a.template.json")]}, tmp_path, tool)
    assert outcome == Outcome("cfn-lint", checked=False,
                              reason="cfn-lint failed (us-east-1): cfnlint.decode: could not read template")
    assert not (tmp_path / "cfn-lint.json").exists()


def test_cfn_lint_without_templates_is_not_checked(tmp_path: Path) -> None:
    assert cfn_lint({}, tmp_path, FakeTool()).reason == "no synthesized templates to lint"
