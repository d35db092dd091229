"""Each scanner's real output shape (tests/unit/vuln_samples) -> normalized findings and scan results."""
from __future__ import annotations

import json

import pytest

from churnguard_ops.vulns.normalize import bandit, cdk_nag, cfn_lint, inspector, pip_audit
from churnguard_ops.vulns.normalize.common import ReportFormatError, parse_time
from tests.unit.vulns_fakes import LAYERS, T0, sample, sample_json


def test_inspector_layer_package_on_two_functions_is_one_key_on_the_layer_with_each_arn() -> None:
    found = inspector.normalize(sample_json("inspector-findings.json")["findings"], layer_resources=LAYERS)
    layer = [f for f in found if f.package == "urllib3"]
    assert {f.key for f in layer} == {layer[0].key} and len(layer) == 2
    f = layer[0]
    assert (f.vuln_id, f.aliases, f.resource, f.version, f.fixed_versions) == (
        "CVE-2023-43804", ("GHSA-v845-jxx5-vc9f",), "layer:ops", "1.26.16", ("1.26.17",))
    assert f.severity == "high" and f.cvss is not None and (f.cvss.score, f.cvss.source) == (8.1, "NVD")
    assert f.epss is not None and f.epss.score == pytest.approx(0.00215)
    assert {x.source_ids["inspector"] for x in layer} == {
        "arn:aws:inspector2:eu-west-1:123456789012:finding/5a0c3e1b9d2f4e6a8b7c6d5e4f3a2b1c",
        "arn:aws:inspector2:eu-west-1:123456789012:finding/9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"}
    assert f.first_observed_at == parse_time("2026-10-20T08:15:02.113000+00:00", "t")


def test_inspector_unmapped_layer_is_named_by_its_deployed_name() -> None:
    raw = sample_json("inspector-findings.json")["findings"][0]
    assert inspector.normalize_finding(raw)[0].resource == "layer:churnguard-ops-shared"


def test_inspector_function_package_statuses_and_code_findings() -> None:
    found = {f.vuln_id: f for f in inspector.normalize(sample_json("inspector-findings.json")["findings"],
                                                       layer_resources=LAYERS)}
    requests = found["CVE-2024-35195"]
    assert (requests.resource, requests.status, requests.severity) == (
        "function:churnguard-ops-cost-report", "closed", "medium")
    code = found["python-avoid-string-formatting-in-sql-queries"]
    assert (code.rule, code.resource, code.status) == (
        "python-avoid-string-formatting-in-sql-queries", "function:churnguard-ops-reports-export", "suppressed")
    assert code.location is not None and (code.location.path, code.location.line) == ("app.py", 5)


def test_inspector_untriaged_severity_comes_from_cvss_with_a_note() -> None:
    raw = {**sample_json("inspector-findings.json")["findings"][2], "severity": "UNTRIAGED"}
    f = inspector.normalize_finding(raw)[0]
    assert f.severity == "medium" and f.severity_note and "CVSS 5.6" in f.severity_note


def test_inspector_event_detail_time_format_is_read() -> None:
    assert parse_time("Wed Sep 04 16:50:37.627 UTC 2024", "t").isoformat() == "2024-09-04T16:50:37.627000+00:00"


def test_inspector_finding_without_a_lambda_resource_is_one_clear_error() -> None:
    raw = {**sample_json("inspector-findings.json")["findings"][2], "resources": [{"type": "AWS_EC2_INSTANCE",
                                                                                  "id": "i-0abc"}]}
    with pytest.raises(ReportFormatError, match="no AWS_LAMBDA_FUNCTION resource"):
        inspector.normalize_finding(raw)


def test_pip_audit_findings_have_cve_ids_no_severity_and_skipped_dependencies_not_checked() -> None:
    scan = pip_audit.normalize(sample("pip-audit.json"), scanned_at=T0)
    assert (scan.source, scan.complete, scan.covered) == ("pip-audit", True, ("layer:ops",))
    by_id = {f.vuln_id: f for f in scan.findings}
    assert set(by_id) == {"CVE-2023-43804", "CVE-2023-45803", "CVE-2024-3651"}
    urllib3 = by_id["CVE-2023-43804"]
    assert urllib3.aliases == ("GHSA-v845-jxx5-vc9f", "PYSEC-2023-192")
    assert (urllib3.package, urllib3.version, urllib3.fixed_versions) == ("urllib3", "1.26.16", ("1.26.17", "2.0.6"))
    assert urllib3.severity == "unknown" and "treated as high" in (urllib3.severity_note or "")
    assert [n.reason for n in scan.not_checked] == [
        "churnguard-ops: Dependency not found on PyPI and could not be audited: churnguard-ops (0.1.0)"]


def test_pip_audit_severity_from_a_known_cvss_of_an_alias() -> None:
    from churnguard_ops.vulns.model import Cvss
    scan = pip_audit.normalize(sample_json("pip-audit.json"), scanned_at=T0,
                               cvss={"GHSA-jjg7-2v4v-x38h": Cvss(score=6.2, source="GHSA")})
    idna = next(f for f in scan.findings if f.package == "idna")
    assert idna.severity == "medium" and idna.severity_note == "from CVSS 6.2 (GHSA)"


def test_pip_audit_rejects_other_json_with_one_line() -> None:
    with pytest.raises(ReportFormatError, match="'dependencies' list"):
        pip_audit.normalize(json.dumps([{"name": "x"}]), scanned_at=T0)


def test_bandit_groups_a_rule_per_file_and_covers_its_targets() -> None:
    scan = bandit.normalize(sample("bandit.json"), scanned_at=T0, targets=["functions", "layers/ops/python"])
    by = {(f.rule, f.resource): f for f in scan.findings}
    assert set(by) == {("B404", "code:functions/reports/app.py"), ("B608", "code:functions/reports/app.py"),
                       ("B602", "code:functions/reports/app.py"),
                       ("B108", "code:layers/ops/python/churnguard_ops/demo/tmp.py")}
    sql = by[("B608", "code:functions/reports/app.py")]
    assert (sql.vuln_id, sql.severity) == ("B608", "medium") and "lines 5, 6" in sql.description
    assert sql.location is not None and sql.location.line == 5
    assert by[("B602", "code:functions/reports/app.py")].severity == "high"
    assert scan.covered == ("code:functions/*", "code:layers/ops/python/*")


def test_cdk_nag_csv_non_compliant_lines_named_by_logical_id_and_unknown_not_checked() -> None:
    scan = cdk_nag.normalize(sample("AwsSolutions-ChurnGuardOps-Vulns-NagReport.csv"),
                             report_name="cdk.out/AwsSolutions-ChurnGuardOps-Vulns-NagReport.csv", scanned_at=T0,
                             template=sample_json("ChurnGuardOps-Vulns.template.json"))
    assert {(f.rule, f.resource) for f in scan.findings} == {
        ("AwsSolutions-IAM5",
         "template:ChurnGuardOps-Vulns.template.json/ChurnGuardOps-Vulns/Poller/Function/ServiceRole/DefaultPolicy/"
         "Resource"),
        ("AwsSolutions-L1", "template:ChurnGuardOps-Vulns.template.json/PollerFunction1A2B3C4D"),
        ("AwsSolutions-SQS3", "template:ChurnGuardOps-Vulns.template.json/ChurnGuardOps-Vulns/Poller/Dlq/Resource"),
    }
    assert all(f.severity == "high" for f in scan.findings)
    assert [n.reason for n in scan.not_checked] == ["AwsSolutions-DDB3 could not be evaluated"]
    assert scan.covered == ("template:ChurnGuardOps-Vulns.template.json/*",)


def test_cdk_nag_json_report_reads_like_the_csv() -> None:
    report = json.dumps({"lines": [{"ruleId": "AwsSolutions-L1", "resourceId": "S/Fn/Resource",
                                    "compliance": "Non-Compliant", "exceptionReason": "N/A", "ruleLevel": "Warning",
                                    "ruleInfo": "The non-container Lambda function is not configured to use the "
                                                "latest runtime version."}]})
    scan = cdk_nag.normalize(report, report_name="AwsSolutions-S-NagReport.json", scanned_at=T0)
    assert [(f.resource, f.severity) for f in scan.findings] == [("template:S.template.json/S/Fn/Resource", "medium")]


def test_cfn_lint_matches_named_by_template_and_logical_id() -> None:
    scan = cfn_lint.normalize(sample("cfn-lint.json"), scanned_at=T0,
                              templates=["cdk.out/ChurnGuardOps-Vulns.template.json"])
    by = {f.rule: f for f in scan.findings}
    assert by["W2531"].resource == "template:ChurnGuardOps-Vulns.template.json/PollerFunction1A2B3C4D"
    assert by["W2531"].severity == "medium" and by["W2531"].location is not None and by["W2531"].location.line == 6
    assert (by["E6101"].resource, by["E6101"].severity) == (
        "template:ChurnGuardOps-Vulns.template.json/Outputs.LedgerTable", "high")
    assert scan.covered == ("template:ChurnGuardOps-Vulns.template.json/*",)


def test_cfn_lint_clean_run_is_a_complete_scan_with_no_findings() -> None:
    scan = cfn_lint.normalize("[]", scanned_at=T0, templates=["a.template.json"])
    assert scan.complete and scan.findings == () and scan.covered == ("template:a.template.json/*",)
