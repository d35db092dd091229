"""The report from a ledger filled by every sample: sections, recommendations, and its three renderings."""
from __future__ import annotations

import json
from datetime import timedelta

import jsonschema
import pytest

from churnguard_ops.vulns import report_markdown, report_sarif
from churnguard_ops.vulns.exceptions import ExceptionSet, parse_exceptions
from churnguard_ops.vulns.ledger import Ledger, observe
from churnguard_ops.vulns.model import Cvss, ScanResult, ScanSummary, SlaPolicy
from churnguard_ops.vulns.normalize import bandit, cdk_nag, inspector, pip_audit
from churnguard_ops.vulns.report import VulnReport, build_report, recommendations, to_json, version_key
from tests.unit.vulns_fakes import LAYERS, T0, Clock, FakeLedgerStore, package_finding, sample, sample_json

EXCEPTIONS = """
[[exception]]
id = "CVE-2024-3651"
package = "idna"
resource = "layer:ops"
reason = "we only encode our own host names"
approver = "alice@churnguard.example"
expires = 2026-11-10

[[exception]]
id = "B108"
package = "B108"
resource = "code:layers/ops/python/*"
reason = "scratch file in the Lambda's private /tmp"
approver = "bob@churnguard.example"
expires = 2026-12-05
"""


@pytest.fixture(scope="module")
def filled() -> tuple[VulnReport, list[ScanSummary], ExceptionSet]:
    """A ledger after every sample, a month on: the idna exception expired, the B108 one expires soon."""
    store, clock = FakeLedgerStore(), Clock(T0 - timedelta(days=40))
    start = clock().date()
    policy = SlaPolicy()
    led = Ledger(store, policy=policy, exceptions=parse_exceptions(EXCEPTIONS, start), clock=clock)
    scans = [
        pip_audit.normalize(sample("pip-audit.json"), scanned_at=clock(),
                            cvss={"CVE-2023-45803": Cvss(score=4.2, source="NVD")}),
        ScanResult(source="inspector", scanned_at=clock(), complete=False,
                   findings=tuple(inspector.normalize(sample_json("inspector-findings.json")["findings"],
                                                      layer_resources=LAYERS)),
                   not_checked=()),
        bandit.normalize(sample("bandit.json"), scanned_at=clock(), targets=["functions", "layers/ops/python"]),
        cdk_nag.normalize(sample("AwsSolutions-ChurnGuardOps-Vulns-NagReport.csv"),
                          report_name="AwsSolutions-ChurnGuardOps-Vulns-NagReport.csv", scanned_at=clock(),
                          template=sample_json("ChurnGuardOps-Vulns.template.json")),
    ]
    for s in scans:
        led.apply(s)
    critical = package_finding("inspector", "CVE-2026-0001", package="boto3", version="1.35.0", fixed=(),
                               resource="function:churnguard-ops-cost-report", severity="critical", at=clock(),
                               ref="arn:aws:inspector2:eu-west-1:123456789012:finding/cccc")
    led.apply(ScanResult(source="inspector", scanned_at=clock(), complete=False, findings=(critical,)))
    clock.now = T0 + timedelta(days=25)  # 2026-11-26
    today = clock().date()
    exceptions = parse_exceptions(EXCEPTIONS, today)
    Ledger(store, policy=policy, exceptions=exceptions, clock=clock).refresh()
    summaries = [ScanSummary.of(s) for s in scans]
    summaries.append(ScanSummary(source="inspector", scanned_at=clock(), complete=True, findings=3, not_checked=(
        {"resource": "function:churnguard-ops-archive", "reason": "idle for 90 days: Inspector stopped scanning"},)))
    return build_report(list(store.items.values()), summaries, exceptions, policy, clock()), summaries, exceptions


def test_per_source_status_says_not_checked_rather_than_clean(filled) -> None:
    report, _, _ = filled
    by = {s.source: s for s in report.sources}
    assert by["cfn-lint"].status == "not checked" and by["cfn-lint"].not_checked[0].reason == "no scan received"
    assert by["pip-audit"].status == "partial"  # the local package it could not audit
    assert by["inspector"].status == "partial"
    assert by["inspector"].not_checked[0].resource == "function:churnguard-ops-archive"
    assert by["bandit"].status == "checked" and by["bandit"].open_by_severity == {"high": 1, "medium": 1, "low": 1}


def test_critical_findings_and_sla_breaches(filled) -> None:
    report, _, _ = filled
    assert [f.vuln_id for f in report.critical] == ["CVE-2026-0001"]
    breached = {f.vuln_id for f in report.sla_breaches}
    assert "CVE-2026-0001" in breached and "CVE-2023-43804" in breached  # 65 days open: critical 15, high 30
    assert "B404" not in breached  # low: 120 days
    assert all(f.days_open == 65 for f in report.sla_breaches)


def test_exceptions_expiring_soon_and_expired_ones_that_reopened_their_finding(filled) -> None:
    report, _, _ = filled
    assert [(e.id, e.days_left) for e in report.expiring_exceptions] == [("B108", 9)]
    assert [e.id for e in report.expired_exceptions] == ["CVE-2024-3651"]
    assert report.exception_problems == ("exception 1 (CVE-2024-3651): expired on 2026-11-10",)
    idna = next(f for f in report.findings if f.vuln_id == "CVE-2024-3651")
    assert idna.state == "reopened" and idna.exception is None
    b108 = next(f for f in report.findings if f.vuln_id == "B108")
    assert b108.state == "excepted" and not b108.sla_breached


def test_recommendations_name_the_one_upgrade_that_fixes_a_package(filled) -> None:
    report, _, _ = filled
    texts = [r.text for r in report.recommendations]
    assert texts[0] == ("upgrade urllib3 1.26.16 to 1.26.18 on layer:ops: fixes 2 findings (CVE-2023-43804, "
                        "CVE-2023-45803)")
    assert texts[1] == "upgrade idna 3.6 to 3.7 on layer:ops: fixes 1 finding (CVE-2024-3651)"
    assert any(t.startswith("boto3: no fixed version yet for CVE-2026-0001") for t in texts)


def test_recommendation_target_is_the_first_fix_above_the_installed_version() -> None:
    on_two = package_finding("pip-audit", "CVE-1", version="2.0.5", fixed=("1.26.17", "2.0.6"))
    entry = observe(None, on_two, "pip-audit", T0)
    [rec] = recommendations(build_report([entry], [], ExceptionSet(), SlaPolicy(), T0).findings)
    assert rec.target_version == "2.0.6"
    assert version_key("2.0.10") > version_key("2.0.9") > version_key("2.0rc1")


def test_findings_are_worst_first_with_unknown_severity_ranked_as_high(filled) -> None:
    report, _, _ = filled
    order = [f.severity for f in report.findings]
    assert order == sorted(order, key=["critical", "high", "unknown", "medium", "low", "informational"].index)
    assert order[0] == "critical" and "unknown" in order


def test_next_steps_and_notes_cover_breaches_blind_spots_and_unknown_severity(filled) -> None:
    report, _, _ = filled
    steps = " ".join(report.next_steps)
    assert report.next_steps[0].startswith("Fix the ") and "past their SLA first" in report.next_steps[0]
    assert "cfn-lint (not checked: no scan received)" in steps
    assert "Renew (with a new approval) or fix before expiry: B108 on code:layers/ops/python/* (2026-12-05)" in steps
    assert "Triage the 1 finding(s) with no severity (clocked as high): CVE-2024-3651" in steps
    assert any("the clock does not restart" in n for n in report.notes)
    assert any("treated" in n or "runs as high" in n for n in report.notes)


def test_an_empty_ledger_with_every_source_checked_says_nothing_to_do() -> None:
    scans = [ScanSummary(source=s, scanned_at=T0, complete=True, findings=0)  # type: ignore[arg-type]
             for s in ("inspector", "pip-audit", "bandit", "cdk-nag", "cfn-lint")]
    report = build_report([], scans, ExceptionSet(), SlaPolicy(), T0)
    assert report.next_steps == ("Nothing to do: no open findings, every source checked.",)


def test_json_round_trips_to_the_model(filled) -> None:
    report, _, _ = filled
    assert VulnReport.model_validate_json(to_json(report)) == report


def test_markdown_has_the_summary_sections_in_order(filled) -> None:
    report, _, _ = filled
    md = report_markdown.render(report)
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Per source", "## Critical findings", "## SLA breaches", "## Exceptions",
                        "## Recommendations", "## Next steps", "## All open and excepted findings", "## Notes"]
    assert "| cfn-lint | not checked | - | 0 | 0 | 0 | 0 | 0 | no scan received |" in md
    assert "function:churnguard-ops-archive: idle for 90 days: Inspector stopped scanning" in md
    assert "- B108 (B108 on `code:layers/ops/python/*`) expires on 2026-12-05 (9 days)" in md


# The SARIF 2.1.0 schema's required members and enums for what we emit (sarif-schema-2.1.0.json).
SARIF_REQUIRED = {
    "type": "object", "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "items": {
            "type": "object", "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {"rules": {"type": "array", "items": {"type": "object", "required": ["id"]}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}]},
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "properties": {
                                "region": {"type": "object", "properties": {
                                    "startLine": {"type": "integer", "minimum": 1}}}}}}}},
                        "suppressions": {"type": "array", "items": {
                            "type": "object", "required": ["kind"],
                            "properties": {"kind": {"enum": ["inSource", "external"]},
                                           "status": {"enum": ["accepted", "underReview", "rejected"]}}}},
                    }}},
            }}},
    },
}


def test_sarif_is_valid_2_1_0_with_rules_results_levels_and_locations(filled) -> None:
    report, _, _ = filled
    log = json.loads(report_sarif.render(report, artifacts={"layer:ops": "layers/ops/requirements.txt"}))
    jsonschema.validate(log, SARIF_REQUIRED)
    run = log["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))
    assert len(run["results"]) == len(report.findings)
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"] and result["locations"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert by_rule["CVE-2026-0001"]["level"] == "error"
    sql = by_rule["B608"]["locations"][0]["physicalLocation"]
    assert sql == {"artifactLocation": {"uri": "functions/reports/app.py"}, "region": {"startLine": 5}}
    assert by_rule["CVE-2023-43804"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == \
        "layers/ops/requirements.txt"
    assert by_rule["B108"]["suppressions"][0]["status"] == "accepted"
    assert by_rule["CVE-2023-45803"]["level"] == "warning"  # medium from its CVSS 4.2
