"""opsctl vuln report on fakes: bad input is one line and exit 2 before anything starts; the pretend account
(findings, coverage, exceptions file, the ledger's earlier state) is what the demo promises; its ledger, folded by
the vulns library on a fake store, reads back as the summary: one layer CVE, one SLA breach, the exception
expiring soon, the expired one and what it reopened, the coverage gap, each source checked or not and why."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from churnguard_ops.core import contracts
from churnguard_ops.vulns.exceptions import parse_exceptions
from churnguard_ops.vulns.ledger import Ledger
from churnguard_ops.vulns.model import NotChecked, ScanResult, ScanSummary, SlaPolicy
from churnguard_ops.vulns.normalize.inspector import normalize
from churnguard_ops.vulns.report import build_report, to_json
from opsctl import cli, vulns_world
from opsctl.commands import vuln
from opsctl.vulns_world import Deployed, VulnWorld
from tests.unit.vulns_fakes import FakeLedgerStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
DEPLOYED = Deployed(region="us-east-1", bucket="ops-bucket", table="ledger")
FUNCTIONS = [f"churnguard-ops-{n}" for n in ("backup-run", "cost-report", "sample-api", "dbadvisor-advise",
                                             "drill-plan", "security-analyze", "restore-verify", "vulns-poll")]
PIP_AUDIT_WHY = "none of the 16 locked dependencies could be audited: Dependency not found on PyPI"


def _world() -> VulnWorld:
    return vulns_world.build_world(DEPLOYED, FUNCTIONS, NOW, vulns_world.repo_exceptions())


def _wire(finding: dict[str, Any]) -> dict[str, Any]:
    """A seeded finding as ListFindings answers it (times as text)."""
    return json.loads(json.dumps(finding, default=lambda v: v.isoformat()))


def _report(world: VulnWorld) -> dict[str, Any]:
    """The pretend account's ledger as the functions fold it (poll, the closed finding, poll), reported."""
    store = FakeLedgerStore()
    store.put(world.earlier)  # type: ignore[arg-type]
    exceptions = parse_exceptions(world.exceptions_text, NOW.date())
    ledger = Ledger(store, policy=SlaPolicy(), exceptions=exceptions, clock=lambda: NOW)
    findings = [_wire(f) for f in world.findings]
    polled = normalize(findings, layer_resources=DEPLOYED.layer_resources)
    ledger.apply(ScanResult(source="inspector", scanned_at=NOW, complete=False, findings=tuple(polled)))
    closed = next(f for f in findings if f["findingArn"] == world.arns["closed"])
    closed_findings = tuple(normalize([{**closed, "status": "CLOSED"}], layer_resources=DEPLOYED.layer_resources))
    ledger.apply(ScanResult(source="inspector", scanned_at=NOW, complete=False, findings=closed_findings))
    gaps = (NotChecked(resource=f"function:{world.stale_function}", reason="not scanned (STALE_INVENTORY)"),)
    scans = [ScanSummary(source="inspector", scanned_at=NOW, complete=False, findings=6, not_checked=gaps),
             ScanSummary(source="pip-audit", scanned_at=NOW, complete=False, findings=0,
                         not_checked=(NotChecked(reason=PIP_AUDIT_WHY),))]
    report: dict[str, Any] = json.loads(to_json(build_report(store.query(), scans, exceptions, SlaPolicy(), NOW)))
    return report


def _answer(report: dict[str, Any]) -> dict[str, Any]:
    return {"generated_at": report["generated_at"], "open_by_severity": report["open_by_severity"],
            "totals": report["totals"], "sla_breaches": len(report["sla_breaches"]), "reopened_now": 0,
            "locations": {"report.json": "s3://ops-bucket/vulns/reports/x/report.json"}}


# -- bad input ------------------------------------------------------------------------------------------------


def test_an_out_that_is_a_file_is_one_line_and_exit_code_2_before_anything_starts(
        tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vuln, "local_target", lambda *a, **k: pytest.fail("the embedded AWS must not start"))
    afile = tmp_path / "file"
    afile.write_text("x")
    assert cli.main(["vuln", "report", "--local", "--out", str(afile)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "not a directory" in err[0], err


def test_vuln_without_an_action_is_refused_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["vuln"])
    assert exited.value.code == 2


def test_a_poll_function_without_its_table_or_bucket_is_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="VULNS_BUCKET, VULNS_LEDGER_TABLE"):
        Deployed.from_environment("us-east-1", {})


def test_the_deployed_layer_is_read_from_the_functions_layer_resources() -> None:
    deployed = Deployed.from_environment("eu-west-1", {
        "VULNS_BUCKET": "b", "VULNS_LEDGER_TABLE": "t",
        "VULNS_LAYER_RESOURCES": json.dumps({"acme-shared": contracts.VULN_LAYER_RESOURCE})})
    assert deployed.layer_resources == {"acme-shared": "layer:ops"}


# -- the pretend account ----------------------------------------------------------------------------------------


def test_the_pretend_account_needs_two_functions() -> None:
    with pytest.raises(ValueError, match="at least 2 deployed functions, found 1"):
        vulns_world.assign(["churnguard-ops-only"])


def test_each_seeded_finding_goes_to_its_own_function_the_layer_cve_to_two() -> None:
    roles = vulns_world.assign(FUNCTIONS)
    assert roles["critical"] == "churnguard-ops-backup-run" and roles["critical_2"] == "churnguard-ops-cost-report"
    assert roles["stale"] == "churnguard-ops-restore-verify"
    assert len(set(roles.values())) == len(roles)


def test_coverage_covers_every_function_and_only_the_stale_one_is_not_scanned() -> None:
    world = _world()
    not_scanned = {c["resourceId"].rsplit(":", 1)[-1] for c in world.coverage
                   if c["scanStatus"]["statusCode"] != "ACTIVE"}
    assert {c["resourceId"].rsplit(":", 1)[-1] for c in world.coverage} == set(FUNCTIONS)
    assert not_scanned == {world.stale_function}


def test_the_demo_exceptions_file_is_the_repositorys_plus_one_expiring_and_one_expired() -> None:
    world = _world()
    parsed = parse_exceptions(world.exceptions_text, NOW.date())
    repo = parse_exceptions(vulns_world.repo_exceptions(), NOW.date())
    assert len(parsed.active) == len(repo.active) + 1
    assert [e.id for e in parsed.expired] == ["CVE-2026-41004"]
    assert [e.id for e in parsed.expiring(NOW.date())] == [vulns_world.CODE_RULE]
    assert list(parsed.problems) == [f"exception {len(repo.active) + 2} (CVE-2026-41004): expired on "
                                     f"{NOW.date() - timedelta(days=5)}"]


def test_the_earlier_ledger_entry_is_excepted_by_the_now_expired_exception() -> None:
    world = _world()
    earlier = world.earlier
    assert earlier is not None and earlier.state == "excepted" and earlier.version == 0
    assert earlier.exception is not None and earlier.exception.id == "CVE-2026-41004"
    assert earlier.finding.resource == "layer:ops" and earlier.first_seen == NOW - timedelta(days=51)


def test_the_build_report_event_is_the_one_ingest_build_parses() -> None:
    from churnguard_ops.vulns.events import BuildReportCreated

    key = vulns_world.build_report_key("local-1", "bandit")
    parsed = BuildReportCreated.model_validate(vulns_world.object_created("ops-bucket", key, "us-east-1", 10, NOW))
    assert (parsed.bucket, parsed.key, parsed.report_source, parsed.run_id) == ("ops-bucket", key, "bandit", "local-1")


# -- the summary ------------------------------------------------------------------------------------------------


def test_the_layer_cve_on_two_functions_is_one_critical_finding_on_the_layer() -> None:
    report = _report(_world())
    layer = [f for f in report["findings"] if f["vuln_id"] == "CVE-2026-41001"]
    assert [(f["resource"], f["severity"]) for f in layer] == [("layer:ops", "critical")]


def test_the_summary_shows_the_breach_the_expiring_and_expired_exceptions_and_the_gap() -> None:
    world = _world()
    report = _report(world)
    text = "\n".join(vuln.summary_lines(_answer(report), report))
    assert "1 past SLA" in text
    assert "CVE-2026-41002 requests 2.32.3 on function:churnguard-ops-sample-api: high, 40 days open" in text
    assert f"{vulns_world.CODE_RULE} on function:{world.functions['code']}: expires " in text and "(7 days)" in text
    expired_on = NOW.date() - timedelta(days=5)
    assert f"reopened CVE-2026-41004 sqlglot 30.30.0 on layer:ops: exception CVE-2026-41004 expired on {expired_on}" \
        in text
    assert f"not scanned by Inspector: 1:\n    function:{world.stale_function}: not scanned (STALE_INVENTORY)" in text
    assert f"pip-audit  not checked ({PIP_AUDIT_WHY})" in text
    assert "cdk-nag    not checked (no scan received)" in text


def test_a_reopened_finding_no_expired_exception_covers_is_not_blamed_on_one() -> None:
    report = {"findings": [{"state": "reopened", "vuln_id": "CVE-1", "aliases": [], "resource": "layer:ops"}],
              "expired_exceptions": [{"id": "CVE-2", "resource": "layer:ops", "expires": "2026-11-01"}]}
    assert vuln.reopened_by_expiry(report) == []


def test_an_expired_exception_matches_its_finding_by_alias_and_resource_glob() -> None:
    finding = {"state": "reopened", "vuln_id": "CVE-1", "aliases": ["GHSA-x"], "resource": "function:cg-a"}
    exception = {"id": "ghsa-x", "resource": "function:cg-*", "expires": "2026-11-01"}
    assert vuln.reopened_by_expiry({"findings": [finding], "expired_exceptions": [exception]}) == [(finding, exception)]


def test_without_the_report_file_the_functions_answer_is_printed() -> None:
    answer = {"generated_at": "2026-11-30T12:00:00Z", "open_by_severity": {"high": 2}, "totals": {"open": 2},
              "sla_breaches": 0, "not_checked": {"pip-audit": "not checked"}, "locations": {}}
    lines = vuln.summary_lines(answer, None)
    assert lines[0] == "Vulnerability report 2026-11-30 12:00 UTC: 2 open (high 2), 0 past SLA"
    assert "  pip-audit  not checked" in lines
