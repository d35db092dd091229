"""make audit's summary: findings by severity through the vulnerability library's normalizers, exceptions
applied, "not checked" with its reason (never clean), and a failing status for an invalid exceptions file."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

from churnguard_ops.vulns.exceptions import parse_exceptions
from tools.audit.findings import build_report, scan_of
from tools.audit.scanners import Outcome
from tools.audit.summary import LockStatus, build, markdown

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
TODAY = NOW.date()
LOCK_OK = LockStatus("layers/ops/requirements.lock", 16)


def _bandit_result(test_id: str, severity: str, filename: str, line: int) -> dict:
    return {"test_id": test_id, "test_name": "hardcoded_sql_expressions", "issue_severity": severity,
            "issue_confidence": "LOW", "issue_text": "Possible SQL injection vector", "filename": filename,
            "line_number": line, "more_info": "https://bandit.readthedocs.io/", "issue_cwe": {"id": 89}}


def _exception(id_: str, resource: str, expires: date) -> str:
    return (f'[[exception]]\nid = "{id_}"\npackage = "{id_}"\nresource = "{resource}"\nreason = "constants only"\n'
            f'approver = "a@churnguard.example"\nexpires = {expires.isoformat()}\n')


def _outcomes(tmp_path: Path) -> list[Outcome]:
    (tmp_path / "bandit.json").write_text(json.dumps({"errors": [], "results": [
        _bandit_result("B608", "MEDIUM", "layers/ops/python/churnguard_ops/core/row_counts.py", 18),
        _bandit_result("B608", "MEDIUM", "layers/ops/python/churnguard_ops/core/row_counts.py", 40),
        _bandit_result("B324", "HIGH", "layers/ops/python/churnguard_ops/dbadvisor/naming.py", 43)]}))
    return [Outcome("bandit", checked=True, reports=(tmp_path / "bandit.json",)),
            Outcome("pip-audit", checked=False, reason="ConnectionError: pypi.org could not be resolved")]


def _summary(tmp_path: Path, exceptions_text: str) -> dict:
    outcomes = _outcomes(tmp_path)
    scans = {o.source: scan_of(build_report(o, NOW)) for o in outcomes}
    return build(outcomes, scans, parse_exceptions(exceptions_text, TODAY), LOCK_OK, generated_at=NOW, today=TODAY)


def test_findings_are_counted_by_severity_and_exceptions_take_theirs_out_of_open(tmp_path: Path) -> None:
    text = _exception("B608", "code:layers/ops/python/churnguard_ops/core/row_counts.py", date(2027, 5, 31))
    bandit = _summary(tmp_path, text)["sources"][0]
    # two B608 hits in one file are one finding (the ledger's key: rule + file)
    assert (bandit["status"], bandit["findings"], bandit["by_severity"]) == ("checked", 2, {"high": 1, "medium": 1})
    assert (bandit["excepted"], bandit["open"], bandit["open_by_severity"]) == (1, 1, {"high": 1})
    assert [f["id"] for f in bandit["open_findings"]] == ["B324"]


def test_an_unreachable_source_is_not_checked_with_its_reason_and_never_counted_clean(tmp_path: Path) -> None:
    summary = _summary(tmp_path, "")
    pip_audit = summary["sources"][1]
    assert summary["not_checked_sources"] == ["pip-audit"]
    assert pip_audit["status"] == "not checked"
    assert pip_audit["reason"] == "ConnectionError: pypi.org could not be resolved"
    text = markdown(summary)
    assert "**pip-audit: not checked (ConnectionError: pypi.org could not be resolved)**" in text
    assert "| pip-audit | not checked | - |" in text
    assert "pip-audit: 0 open" not in text and "| pip-audit | checked" not in text


def test_an_expired_exception_makes_the_audit_fail_and_is_listed(tmp_path: Path) -> None:
    text = _exception("B324", "code:layers/ops/python/churnguard_ops/dbadvisor/naming.py", date(2026, 11, 29))
    summary = _summary(tmp_path, text)
    assert summary["ok"] is False
    assert summary["exceptions"]["problems"] == ["exception 1 (B324): expired on 2026-11-29"]
    assert summary["sources"][0]["open"] == 2, "an expired exception no longer applies"
    assert "**INVALID** (make audit fails):" in markdown(summary)


def test_an_unscoped_exception_makes_the_audit_fail(tmp_path: Path) -> None:
    text = _exception("B608", "code:*", date(2027, 1, 31)).replace('package = "B608"\n', "")
    summary = _summary(tmp_path, text)
    assert summary["ok"] is False and summary["exceptions"]["valid"] is False
    assert any("'package' is missing" in p for p in summary["exceptions"]["problems"])


def test_exceptions_expiring_within_14_days_are_listed_and_still_apply(tmp_path: Path) -> None:
    text = _exception("B324", "code:layers/ops/python/churnguard_ops/dbadvisor/naming.py", date(2026, 12, 14))
    summary = _summary(tmp_path, text)
    assert summary["ok"] is True and summary["sources"][0]["excepted"] == 1
    [soon] = summary["exceptions"]["expiring_within_14_days"]
    assert soon.startswith("B324 (B324 on code:layers/ops/python/churnguard_ops/dbadvisor/naming.py) until 2026-12-14")
    assert "Expiring within 14 days:" in markdown(summary)


def test_a_stale_lock_makes_the_audit_fail(tmp_path: Path) -> None:
    outcomes = _outcomes(tmp_path)
    scans = {o.source: scan_of(build_report(o, NOW)) for o in outcomes}
    stale = LockStatus("layers/ops/requirements.lock", 16, problem="requirements.lock is out of date")
    summary = build(outcomes, scans, parse_exceptions("", TODAY), stale, generated_at=NOW, today=TODAY)
    assert summary["ok"] is False and "**requirements.lock is out of date**" in markdown(summary)


def test_an_unreadable_report_is_not_checked_rather_than_clean(tmp_path: Path) -> None:
    (tmp_path / "bandit.json").write_text('{"errors": []}')
    scan = scan_of(build_report(Outcome("bandit", checked=True, reports=(tmp_path / "bandit.json",)), NOW))
    assert not scan.complete and scan.findings == ()
    assert scan.not_checked[0].reason.startswith("its report could not be read: bandit: expected")


def test_a_source_that_did_not_check_is_uploaded_as_not_checked_so_the_ledger_fixes_nothing() -> None:
    document = build_report(Outcome("pip-audit", checked=False, reason="no advisory data"), NOW)
    assert document == {"source": "pip-audit", "scanned_at": NOW.isoformat(), "not_checked": "no advisory data"}
    scan = scan_of(document)
    assert not scan.complete and [n.reason for n in scan.not_checked] == ["no advisory data"]


def test_build_reports_carry_what_each_normalizer_needs(tmp_path: Path) -> None:
    bandit, _ = _outcomes(tmp_path)
    assert build_report(bandit, NOW)["targets"] == ["layers/ops/python", "functions"]
    (tmp_path / "pip-audit.json").write_text(json.dumps({"dependencies": [], "fixes": []}))
    pip_audit = build_report(Outcome("pip-audit", checked=True, reports=(tmp_path / "pip-audit.json",)), NOW)
    assert pip_audit["resource"] == "layer:ops" and scan_of(pip_audit).covered == ("layer:ops",)
    (tmp_path / "cfn-lint.json").write_text("[]")
    lint = build_report(Outcome("cfn-lint", checked=True, reports=(tmp_path / "cfn-lint.json",)), NOW,
                        templates=["out/audit/cdk.out/ChurnGuardOpsBackup.template.json"])
    assert scan_of(lint).complete and lint["templates"] == ["out/audit/cdk.out/ChurnGuardOpsBackup.template.json"]


def test_cdk_nag_findings_are_named_by_template_file_and_logical_id(tmp_path: Path) -> None:
    nag = tmp_path / "AwsSolutions-ChurnGuardOpsBackup-NagReport.csv"
    nag.write_text('Rule ID,Resource ID,Compliance,Exception Reason,Rule Level,Rule Info\n'
                   '"AwsSolutions-IAM5","ChurnGuardOpsBackup/Fn/Role/DefaultPolicy/Resource","Non-Compliant","N/A",'
                   '"Error","The IAM entity contains wildcard permissions"\n'
                   '"AwsSolutions-L1","ChurnGuardOpsBackup/Fn/Resource","Suppressed","runtime pinned","Error","x"\n')
    (tmp_path / "index.json").write_text(json.dumps([{"report": nag.name, "logical_ids": {
        "ChurnGuardOpsBackup/Fn/Role/DefaultPolicy/Resource": "FnRoleDefaultPolicy1234"}}]))
    scan = scan_of(build_report(Outcome("cdk-nag", checked=True, reports=(nag,)), NOW))
    assert [(f.vuln_id, f.resource, f.severity) for f in scan.findings] == [
        ("AwsSolutions-IAM5", "template:ChurnGuardOpsBackup.template.json/FnRoleDefaultPolicy1234", "high")]

